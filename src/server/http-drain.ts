import type { IncomingMessage, ServerResponse } from 'node:http';
import { READINESS_ENDPOINT } from './readiness.ts';

/**
 * The HTTP side of a graceful shutdown: which requests are in flight, which of them are streams
 * (SSE, multipart subscriptions) that never end by themselves, and the answers that change once
 * draining begins. The server itself (listening, upgrades) is `app.ts`'s.
 */
export interface HttpDrain {
  /** Whether draining has begun. */
  readonly draining: boolean;
  /**
   * Call first for every request. Counts it until its response closes; while draining, answers
   * `/readyz` with 503 itself (true: answered, do nothing more) and makes every other response
   * say `Connection: close`.
   */
  admit(req: IncomingMessage, res: ServerResponse): boolean;
  /** Begins draining: `/readyz` answers 503 from now on; responses not yet started will close their connection. */
  begin(): void;
  /**
   * Cuts every streamed response (SSE, multipart) still open. A stream that ends without its
   * `complete` event is what EventSource and graphql-sse clients take for a dropped connection,
   * and they connect again (to another replica); a `complete` would end their subscription for good.
   */
  cutStreams(): void;
  /** Resolves once no request is in flight. */
  idle(): Promise<void>;
  /** Requests in flight now. */
  inFlight(): number;
}

/** Media types a client asks for when it wants a stream of results rather than one. */
const STREAM_TYPES = /text\/event-stream|multipart\/mixed/i;

function pathOf(url: string | undefined): string {
  return (url ?? '/').split('?', 1)[0] ?? '/';
}

export function createHttpDrain(): HttpDrain {
  /** Each response in flight, and whether it is a stream. */
  const responses = new Map<ServerResponse, boolean>();
  const waiters: (() => void)[] = [];
  let draining = false;

  return {
    get draining() {
      return draining;
    },
    admit: (req, res) => {
      if (draining && pathOf(req.url) === READINESS_ENDPOINT) {
        // At once, without asking Nomad or Redis: the load balancer is to send nothing new here.
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
        res.end('shutting down\n');
        return true;
      }
      responses.set(res, STREAM_TYPES.test(req.headers.accept ?? ''));
      res.once('close', () => {
        responses.delete(res);
        if (responses.size === 0) for (const resolve of waiters.splice(0)) resolve();
      });
      if (draining) res.shouldKeepAlive = false;
      return false;
    },
    begin: () => {
      draining = true;
      // A response whose head is not out yet says `Connection: close`, so its client does not send
      // a next request on a connection about to go. One already started closes after it anyway.
      for (const res of responses.keys()) if (!res.headersSent) res.shouldKeepAlive = false;
    },
    cutStreams: () => {
      for (const [res, stream] of responses) if (stream) res.destroy();
    },
    idle: () => (responses.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    inFlight: () => responses.size,
  };
}
