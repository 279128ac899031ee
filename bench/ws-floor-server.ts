/**
 * The floor of a subscription: a process that only holds graphql-ws connections
 * (`graphql-transport-ws`: acknowledges `connection_init`, answers one `next` per `subscribe`,
 * keeps each subscription's id, answers pings), started by the bench beside the gateway replicas.
 * What it costs per connection is what any Node process holding the same sockets costs.
 * `POST /broadcast?alloc=<id>` writes one event updating that allocation to every subscription
 * (answered once all are written to their sockets): the floor of delivering a change to every
 * subscriber. Prints `ws floor listening on ws://…` once ready.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

const http = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://floor');
  const allocId = url.searchParams.get('alloc');
  if (req.method !== 'POST' || url.pathname !== '/broadcast' || allocId === null) {
    res.writeHead(404).end();
    return;
  }
  const payload = JSON.stringify({ data: { allocationChanges: { initial: false, index: '2', added: [], updated: [{ allocId, desiredStatus: 'STOP', clientStatus: 'RUNNING' }] } } });
  for (const [socket, ids] of subscriptions) {
    for (const id of ids) socket.send(`{"id":${JSON.stringify(id)},"type":"next","payload":${payload}}`);
  }
  res.writeHead(204).end();
});
const server = new WebSocketServer({ server: http, path: '/graphql', handleProtocols: () => 'graphql-transport-ws' });
const subscriptions = new Map<WebSocket, Set<string>>();

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
http.listen(0, '127.0.0.1', () => {
  console.log(`ws floor listening on ws://127.0.0.1:${(http.address() as AddressInfo).port}/graphql`);
});
process.on('SIGTERM', () => {
  for (const client of server.clients) client.terminate();
  server.close(() => http.close(() => process.exit(0)));
});
