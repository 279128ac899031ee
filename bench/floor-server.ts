/**
 * The floor of the query path: the least a process in the gateway's place must do for the
 * dashboard page, started by the bench as its own process, measured beside the gateway.
 *
 * - `FLOOR_MODE=forward`: calls the equal-work Nomad endpoint and forwards its bytes untouched
 *   (the cost of the extra hop alone);
 * - `FLOOR_MODE=project`: calls it, parses the answer losslessly as the gateway does
 *   (`parseNomadJson`), keeps the dashboard's fields in the shape the gateway answers with
 *   (global ids, RFC 3339 times, a cursor) and writes them as JSON: what any hand-written
 *   service would have to do, with no GraphQL at all.
 *
 * Prints `floor listening on http://…` once ready. `FLOOR_UPSTREAM` is the simulator's URL.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { parseNomadJson } from '../src/nomad/json.ts';
import { EQUAL_WORK_PATH } from './scenarios/query.ts';

const mode = process.env['FLOOR_MODE'];
const upstream = process.env['FLOOR_UPSTREAM'];
if ((mode !== 'forward' && mode !== 'project') || upstream === undefined) {
  console.error('FLOOR_MODE (forward or project) and FLOOR_UPSTREAM are required');
  process.exit(2);
}
const pool = new Pool(upstream, { connections: 64 });

function field(record: Record<string, unknown>, name: string): unknown {
  return record[name];
}

/** Nanoseconds since the epoch (a number or, beyond 2^53, a string of digits) as RFC 3339. */
function time(nanos: unknown): string | null {
  if (typeof nanos !== 'number' && typeof nanos !== 'string') return null;
  const ns = BigInt(nanos);
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

function project(body: unknown, nextToken: string | undefined): string {
  const stubs = Array.isArray(body) ? (body as Record<string, unknown>[]) : [];
  const edges = stubs.map((stub) => {
    const id = String(field(stub, 'ID'));
    return {
      node: {
        id: Buffer.from(`Allocation:${id}`).toString('base64url'),
        allocId: id,
        name: field(stub, 'Name'),
        namespace: field(stub, 'Namespace'),
        jobId: field(stub, 'JobID'),
        taskGroup: field(stub, 'TaskGroup'),
        clientStatus: field(stub, 'ClientStatus'),
        desiredStatus: field(stub, 'DesiredStatus'),
        nodeName: field(stub, 'NodeName'),
        modifyTime: time(field(stub, 'ModifyTime')),
      },
    };
  });
  const endCursor = stubs.length === 0 ? null : Buffer.from(String(field(stubs[stubs.length - 1] ?? {}, 'ID'))).toString('base64url');
  return JSON.stringify({ data: { allocations: { edges, pageInfo: { hasNextPage: nextToken !== undefined && nextToken !== '', endCursor } } } });
}

const server = createServer((req, res) => {
  req.resume();
  req.once('end', () => {
    void (async () => {
      try {
        const answer = await pool.request({ method: 'GET', path: EQUAL_WORK_PATH });
        if (mode === 'forward') {
          const chunks: Buffer[] = [];
          for await (const chunk of answer.body) chunks.push(chunk as Buffer);
          const bytes = Buffer.concat(chunks);
          res.writeHead(answer.statusCode, { 'content-type': 'application/json', 'content-length': bytes.length });
          res.end(bytes);
          return;
        }
        const text = await answer.body.text();
        const next = answer.headers['x-nomad-nexttoken'];
        const out = project(parseNomadJson(text), Array.isArray(next) ? next[0] : next);
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(out) });
        res.end(out);
      } catch (error) {
        res.writeHead(502);
        res.end(String(error));
      }
    })();
  });
});
server.listen(0, '127.0.0.1', () => {
  console.log(`floor listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => {
  server.close();
  void pool.close().then(() => process.exit(0));
});
