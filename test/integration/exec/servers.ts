/**
 * Real servers on port 0 for the exec transport tests, for what the simulator cannot show: a
 * WebSocket server that records what the gateway sends, a TLS terminator in front of the
 * simulator, and raw TCP servers that refuse an upgrade or never answer.
 */
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { createAsyncQueue, type AsyncQueue } from '../../helpers/async-queue.ts';
import type { TestPki } from '../../helpers/test-pki.ts';

/** One exec connection as a recording server saw it. */
export interface RecordedExec {
  /** The request URL (path and query). */
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
  /** Every text frame received, in order. */
  readonly received: string[];
  /** The same frames, to wait on. */
  readonly frames: AsyncQueue<string>;
  readonly socket: ServerSocket;
  /**
   * Ends the TCP connection without a close frame, as Nomad does after the exit frame. Graceful
   * (FIN): `socket.terminate()` would reset a connection with unread input (a heartbeat), and a
   * reset makes the peer's kernel drop what it has not read yet.
   */
  drop(): void;
  /** Settles when the connection is closed, with the close code the server saw. */
  readonly closed: Promise<{ code: number; reason: string }>;
}

export interface RecordingExecServer {
  /** `http://127.0.0.1:<port>`, the address to give the transport. */
  readonly address: string;
  /** Each accepted connection, in order. */
  readonly connections: AsyncQueue<RecordedExec>;
  close(): Promise<void>;
}

/** A WebSocket server that accepts every upgrade and records what arrives; tests answer through `socket`. */
export async function startRecordingExecServer(): Promise<RecordingExecServer> {
  const server = createHttpServer((_request, response) => response.writeHead(500).end('websocket connection not found in context'));
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const connections = createAsyncQueue<RecordedExec>();
  const sockets = new Set<ServerSocket>();
  server.on('upgrade', (request: IncomingMessage, connection: Duplex, head: Buffer) => {
    connection.on('error', () => connection.destroy());
    wss.handleUpgrade(request, connection, head, (socket) => accept(socket, request, connection));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accept = (socket: ServerSocket, request: IncomingMessage, connection: Duplex): void => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    const received: string[] = [];
    const frames = createAsyncQueue<string>();
    socket.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      received.push(text);
      frames.push(text);
    });
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.once('close', (code: number, reason: Buffer) => {
        sockets.delete(socket);
        resolve({ code, reason: reason.toString('utf8') });
      }),
    );
    const drop = (): void => void connection.end();
    connections.push({ url: new URL(request.url ?? '/', 'http://recorder'), headers: request.headers, received, frames, socket, drop, closed });
  };
  const { port } = server.address() as AddressInfo;
  return {
    address: `http://127.0.0.1:${port}`,
    connections,
    close: async () => {
      for (const socket of sockets) socket.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A raw TCP server; `onConnection` decides what each connection gets. */
export interface RawServer {
  readonly address: string;
  close(): Promise<void>;
}

export async function startRawServer(onConnection: (socket: Socket) => void): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const server: Server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}


export interface TlsTerminator {
  /** `https://127.0.0.1:<port>`. */
  readonly address: string;
  /** The SNI each accepted connection asked for, in order. */
  readonly serverNames: (string | false)[];
  close(): Promise<void>;
}

/** TLS in front of a plain TCP port (the simulator), as a load balancer in front of Nomad would be. */
export async function startTlsTerminator(
  pki: TestPki,
  targetPort: number,
  options: { requireClientCert: boolean },
): Promise<TlsTerminator> {
  const sockets = new Set<Socket>();
  const serverNames: (string | false)[] = [];
  const server = createTlsServer(
    {
      key: pki.pem('server.key'),
      cert: pki.pem('server.pem'),
      ca: pki.pem('ca.pem'),
      requestCert: options.requireClientCert,
      rejectUnauthorized: options.requireClientCert,
    },
    (client) => {
      serverNames.push(client.servername ?? false);
      const upstream = connect(targetPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('error', () => undefined);
        socket.once('close', () => sockets.delete(socket));
      }
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
      client.pipe(upstream).pipe(client);
    },
  );
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `https://127.0.0.1:${port}`,
    serverNames,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
