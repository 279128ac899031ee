import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { matchExecPath } from '../router.ts';
import type { Simulation } from '../routes/context.ts';
import { startExecSession, type ExecSession } from './session.ts';

export interface AttachExecOptions {
  /** Commands run as real processes in `<workRoot>/<allocId>/<task>`, created on demand. */
  workRoot: string;
  /** The `PATH` commands get. @default the simulator process's PATH */
  hostPath?: string;
  /** Between SIGTERM and SIGKILL when a command is stopped (client gone, `close()`). @default 2000 */
  killGraceMs?: number;
  /** Called for every WebSocket request to the exec path, e.g. to count requests. */
  onUpgrade?: () => void;
}

/** The exec endpoint attached to a server; `close()` ends every session and stops listening. */
export interface ExecAttachment {
  close(): Promise<void>;
}

/**
 * What gorilla's `Upgrader` answers a cross-origin request with (its default `CheckOrigin`),
 * before any Nomad code runs.
 */
const FORBIDDEN_RESPONSE = [
  'HTTP/1.1 403 Forbidden',
  'Content-Type: text/plain; charset=utf-8',
  'Sec-Websocket-Version: 13',
  'X-Content-Type-Options: nosniff',
  'Content-Length: 10',
  'Connection: close',
  '',
  'Forbidden\n',
].join('\r\n');

/** Gorilla's `checkSameOrigin`: no `Origin`, or one whose host equals `Host` (ignoring case). */
function isSameOrigin(request: IncomingMessage): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  return host.toLowerCase() === (request.headers.host ?? '').toLowerCase();
}

function execAllocId(request: IncomingMessage): string | undefined {
  try {
    return matchExecPath(new URL(request.url ?? '/', 'http://simulator').pathname);
  } catch {
    return undefined; // a malformed %-escape
  }
}

/**
 * Serves `/v1/client/allocation/:id/exec` on `server`'s `upgrade` event, running each command
 * as a real child process on this host. Any other upgrade request is dropped.
 */
export function attachExec(server: Server, sim: Simulation, options: AttachExecOptions): ExecAttachment {
  // Like gorilla's upgrader, no compression is negotiated.
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
  const sessions = new Set<ExecSession>();
  const hostPath = options.hostPath ?? process.env['PATH'] ?? '';
  let closed = false;

  const onUpgrade = (request: IncomingMessage, connection: Duplex, head: Buffer): void => {
    // Node removes its own error handler from upgraded sockets.
    connection.on('error', () => connection.destroy());
    const allocId = execAllocId(request);
    if (closed || allocId === undefined) {
      connection.destroy();
      return;
    }
    options.onUpgrade?.();
    if (!isSameOrigin(request)) {
      connection.end(FORBIDDEN_RESPONSE);
      return;
    }
    wss.handleUpgrade(request, connection, head, (socket) => {
      if (closed) {
        socket.terminate();
        return;
      }
      const session = startExecSession({
        socket,
        connection,
        request,
        allocId,
        sim,
        workRoot: options.workRoot,
        hostPath,
        killGraceMs: options.killGraceMs ?? 2_000,
      });
      sessions.add(session);
      void session.done.finally(() => sessions.delete(session));
    });
  };
  server.on('upgrade', onUpgrade);

  return {
    close: async () => {
      closed = true;
      server.off('upgrade', onUpgrade);
      const ending = [...sessions];
      for (const session of ending) session.stop();
      await Promise.all(ending.map((session) => session.done));
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
