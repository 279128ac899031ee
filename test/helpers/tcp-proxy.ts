import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * A TCP forwarder on a loopback port of its own, which a test can take down and bring back on the
 * same port: a stand-in for "Nomad stopped, then started again" that keeps the simulator (and its
 * state) running behind it. `startSimulator` can bind a given port, but a new simulator starts
 * from an empty cluster, so it cannot show changes made while the old one was away.
 */
export interface TcpProxy {
  /** `http://127.0.0.1:<port>`, the address to give a client. */
  readonly url: string;
  readonly port: number;
  /** Drops every open connection (clients see a reset) and stops listening (then: refused). */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  /** Sends connections made from now on to another port, and drops the open ones. */
  retarget(port: number): void;
  /**
   * Holds back what the target sends (requests still reach it, and are answered) until
   * `releaseResponses()`: a slow read, made exactly as slow as the test needs.
   */
  holdResponses(): void;
  /** Lets every held answer through, in order, and stops holding. */
  releaseResponses(): void;
  /** Bytes of answers held right now (> 0: an answer was computed and is waiting here). */
  heldBytes(): number;
  /** Stops for good. Idempotent. */
  close(): Promise<void>;
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The target → client direction of one connection: passes chunks through, or keeps them while `holding()`. */
class ResponseGate extends Transform {
  readonly held: { chunk: Buffer; done: TransformCallback }[] = [];

  constructor(private readonly holding: () => boolean) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.holding()) this.held.push({ chunk, done });
    else done(null, chunk);
  }

  release(): void {
    for (const { chunk, done } of this.held.splice(0)) done(null, chunk);
  }
}

/** Starts forwarding an ephemeral loopback port to `127.0.0.1:targetPort`. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let target = targetPort;
  let holding = false;
  const gates = new Set<ResponseGate>();
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    track(client);
    track(upstream);
    // Either side failing or ending tears down both, as a real hop would.
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    const gate = new ResponseGate(() => holding);
    gates.add(gate);
    client.on('close', () => gates.delete(gate));
    client.pipe(upstream);
    upstream.pipe(gate).pipe(client);
  });
  await listen(server, 0);
  const { port } = server.address() as AddressInfo;
  const dropAll = (): void => {
    for (const socket of sockets) socket.destroy();
  };
  let listening = true;

  async function cut(): Promise<void> {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    dropAll();
    await closed;
  }

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    cut,
    async restore() {
      if (listening) return;
      await listen(server, port);
      listening = true;
    },
    retarget(next) {
      target = next;
      dropAll();
    },
    holdResponses() {
      holding = true;
    },
    releaseResponses() {
      holding = false;
      for (const gate of gates) gate.release();
    },
    heldBytes() {
      let bytes = 0;
      for (const gate of gates) for (const { chunk } of gate.held) bytes += chunk.length;
      return bytes;
    },
    close: cut,
  };
}
