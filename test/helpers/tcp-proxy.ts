import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

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

/** Starts forwarding an ephemeral loopback port to `127.0.0.1:targetPort`. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let target = targetPort;
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
    client.pipe(upstream);
    upstream.pipe(client);
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
    close: cut,
  };
}
