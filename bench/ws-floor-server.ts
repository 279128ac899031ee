/**
 * The floor of an idle subscription's memory: a process that only holds graphql-ws connections
 * (`graphql-transport-ws`: acknowledges `connection_init`, answers one `next` per `subscribe`,
 * keeps each subscription's id, answers pings), started by the bench beside the gateway replicas.
 * What it costs per connection is what any Node process holding the same sockets costs.
 * Prints `ws floor listening on ws://…` once ready.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData } from 'ws';

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/graphql', handleProtocols: () => 'graphql-transport-ws' });
const subscriptions = new Map<object, Set<string>>();

function decode(data: RawData): { type?: unknown; id?: unknown } {
  try {
    const value: unknown = JSON.parse(data.toString());
    return typeof value === 'object' && value !== null ? (value as { type?: unknown; id?: unknown }) : {};
  } catch {
    return {};
  }
}

server.on('connection', (socket) => {
  const ids = new Set<string>();
  subscriptions.set(socket, ids);
  socket.on('message', (data) => {
    const message = decode(data);
    if (message.type === 'connection_init') socket.send('{"type":"connection_ack"}');
    else if (message.type === 'ping') socket.send('{"type":"pong"}');
    else if (message.type === 'subscribe' && typeof message.id === 'string') {
      ids.add(message.id);
      socket.send(JSON.stringify({ type: 'next', id: message.id, payload: { data: { allocationChanges: { initial: true, index: '1', added: [] } } } }));
    } else if (message.type === 'complete' && typeof message.id === 'string') ids.delete(message.id);
  });
  socket.on('close', () => subscriptions.delete(socket));
});
server.on('listening', () => {
  console.log(`ws floor listening on ws://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`);
});
process.on('SIGTERM', () => {
  for (const client of server.clients) client.terminate();
  server.close(() => process.exit(0));
});
