import { connect } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { send } from '../../helpers/http.ts';
import { useSimulator } from '../../helpers/simulator.ts';

describe('simulator answers to bad input', () => {
  const sim = useSimulator();
  let id = '';

  beforeAll(async () => {
    id = sim().cluster.createJob({ id: 'target', groups: [{ name: 'g', tasks: [{ name: 'web' }, { name: 'db' }] }] }).allocations[0]?.ID ?? '';
    await sim().cluster.idle();
  });

  const unknownId = '0b2c3d4e-1111-4222-8333-444455556666';

  const cases: [string, () => [string, RequestInit?], number, string | RegExp][] = [
    ['an unknown allocation', () => [`/v1/allocation/${unknownId}`], 404, 'alloc not found'],
    ['a short allocation id', () => [`/v1/allocation/${id.slice(0, 8)}`], 500, 'alloc lookup failed: index error: UUID must be 36 characters'],
    ['an empty allocation id', () => ['/v1/allocation/'], 500, 'alloc lookup failed: index error: UUID must be 36 characters'],
    ['an odd-length prefix', () => ['/v1/allocations?prefix=abc'], 500, 'alloc lookup failed: index error: Input (without hyphens) must be even length'],
    ['a non-hex prefix', () => ['/v1/allocations?prefix=zz'], 500, "alloc lookup failed: index error: Invalid UUID: encoding/hex: invalid byte: U+007A 'z'"],
    ['a too-long prefix', () => [`/v1/allocations?prefix=${'a'.repeat(38)}`], 500, 'alloc lookup failed: index error: Invalid UUID length. UUID have 36 characters; got 38'],
    ['a bad per_page', () => ['/v1/allocations?per_page=ten'], 400, 'Expect a number for `per_page` query string parameter'],
    ['a bad stale', () => ['/v1/allocations?stale=maybe'], 400, 'Expect `true` or `false` for `stale` query string parameter'],
    ['a bad resources flag', () => ['/v1/allocations?resources=x'], 500, 'Failed to parse value of "resources" (x) as a bool: strconv.ParseBool: parsing "x": invalid syntax'],
    ['a bad no_shutdown_delay', () => [`/v1/allocation/${id}/stop?no_shutdown_delay=yes`, { method: 'POST' }], 500, /^Failed to parse value of "no_shutdown_delay" \(yes\)/],
    ['stop of an unknown allocation', () => [`/v1/allocation/${unknownId}/stop`, { method: 'POST' }], 404, 'allocation not found'],
    ['an empty signal body', () => [`/v1/client/allocation/${id}/signal`, { method: 'POST' }], 400, 'Failed to decode body: Request body is empty'],
    ['a malformed signal body', () => [`/v1/client/allocation/${id}/signal`, { method: 'POST', body: '{"Signal":' }], 400, /^Failed to decode body: /],
    ['a signal field of the wrong type', () => [`/v1/client/allocation/${id}/signal`, { method: 'POST', body: '{"Signal":9}' }], 400, 'Failed to decode body: json: cannot unmarshal number into Go struct field AllocSignalRequest.Signal of type string'],
    ['a signal to an unknown allocation', () => [`/v1/client/allocation/${unknownId}/signal`, { method: 'POST', body: '{"Signal":"SIGHUP"}' }], 404, `Unknown allocation "${unknownId}"`],
    ['a signal to an unknown task', () => [`/v1/client/allocation/${id}/signal`, { method: 'POST', body: '{"Signal":"SIGHUP","Task":"nope"}' }], 500, 'Task not found'],
    ['a malformed restart body', () => [`/v1/client/allocation/${id}/restart`, { method: 'POST', body: 'xyz' }], 500, "invalid character 'x' looking for beginning of value"],
    ['a restart of an unknown task', () => [`/v1/client/allocation/${id}/restart`, { method: 'POST', body: '{"TaskName":"nope"}' }], 500, 'Could not find task runner for task: nope'],
    ['a restart with a task and all tasks', () => [`/v1/client/allocation/${id}/restart`, { method: 'POST', body: '{"TaskName":"web","AllTasks":true}' }], 500, 'task name cannot be set when restarting all tasks'],
    ['services of an unknown allocation', () => [`/v1/allocation/${unknownId}/services`], 404, 'allocation not found'],
    ['a wrong method on the list', () => ['/v1/allocations', { method: 'POST' }], 405, 'Invalid method'],
    ['a GET on stop', () => [`/v1/allocation/${id}/stop`], 405, 'Invalid method'],
    ['an unknown allocation action', () => [`/v1/allocation/${id}/explode`], 404, 'resource not found'],
    ['too many path segments', () => [`/v1/client/allocation/${id}/signal/extra`], 404, 'resource not found'],
    ['a plain request to the exec path', () => [`/v1/client/allocation/${id}/exec`], 500, 'websocket connection not found in context'],
    ['an unrouted path', () => ['/v1/allocations/'], 404, ''],
  ];

  for (const [name, request, status, body] of cases) {
    it(`should answer ${name} with ${status} and Nomad's text`, async () => {
      const [path, init] = request();
      const response = await send(sim().url, path, init as { method?: string; body?: string });
      expect(response.status).toBe(status);
      if (typeof body === 'string') expect(response.text).toBe(body);
      else expect(response.text).toMatch(body);
      if (status !== 404 || body !== '') expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      else expect(response.headers.get('content-type')).toBeNull();
    });
  }

  it('should report the index headers on a read 404', async () => {
    const response = await send(sim().url, `/v1/allocation/${unknownId}`);
    expect(response.headers.get('x-nomad-index')).toBe(String(sim().store.tableIndex.allocs));
  });

  it('should refuse a signal to a task that is not running, per task when signalling all', async () => {
    sim().cluster.setTaskState(id, 'db', 'dead');
    const named = await send(sim().url, `/v1/client/allocation/${id}/signal`, { method: 'POST', body: '{"Signal":"SIGHUP","Task":"db"}' });
    expect([named.status, named.text]).toEqual([500, 'Task not running']);
    const all = await send(sim().url, `/v1/client/allocation/${id}/signal`, { method: 'POST', body: '{"Signal":"SIGHUP"}' });
    expect([all.status, all.text]).toEqual([500, '1 error occurred:\n\t* Failed to signal task: db, err: Task not running\n\n']);
  });

  it('should survive a 10 MB body and keep serving', async () => {
    const body = ' '.repeat(10 * 1024 * 1024);
    const response = await send(sim().url, `/v1/client/allocation/${id}/signal`, { method: 'POST', body });
    expect(response.status).toBe(400);
    expect((await send(sim().url, '/v1/allocations')).status).toBe(200);
  });

  it('should survive a client that drops the connection mid-request', async () => {
    await new Promise<void>((resolve, reject) => {
      const socket = connect(sim().port, '127.0.0.1', () => {
        socket.write(`POST /v1/client/allocation/${id}/signal HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"Sig`);
        socket.destroy();
        resolve();
      });
      socket.on('error', reject);
    });
    expect((await send(sim().url, '/v1/allocations')).status).toBe(200);
  });
});
