import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseNomadJson } from '../../../src/nomad/json.ts';
import { asArray, asRecord, getJson, send } from '../../helpers/http.ts';
import { shapeDifferences } from '../../helpers/shape.ts';
import { useSimulator } from '../../helpers/simulator.ts';

function fixture(name: string): unknown {
  return parseNomadJson(readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8'));
}

const MAPS = new Set(['TaskStates', 'TaskResources', 'NodesAvailable', 'Scores', 'Details', 'Config']);

describe('simulator wire format', () => {
  const sim = useSimulator();

  async function runningServiceAlloc(): Promise<string> {
    const { allocations } = sim().cluster.createJob({
      id: `cache-${Math.random().toString(16).slice(2, 8)}`,
      groups: [{ name: 'cache', count: 1, tasks: [{ name: 'redis', services: [{ name: 'redis-cache', portLabel: 'db', tags: ['cache'] }] }] }],
    });
    await sim().cluster.idle();
    const id = allocations[0]?.ID;
    if (id === undefined) throw new Error('no allocation placed');
    return id;
  }

  it('should list allocations with every field of the documented sample, with its JSON type', async () => {
    const id = await runningServiceAlloc();
    const { body } = await getJson(sim().url, `/v1/allocations?prefix=${id.slice(0, 8)}`);
    const [stub] = asArray(body);
    const [sample] = asArray(fixture('nomad-allocations-list.json'));
    expect(shapeDifferences(sample, stub, { mapKeys: MAPS })).toEqual([]);
    expect(asRecord(stub)['AllocatedResources']).toBeUndefined();
  });

  it('should read an allocation with every field of the documented sample, empty ones omitted as Nomad does', async () => {
    const original = await runningServiceAlloc();
    sim().cluster.failTask(original, 'redis');
    await sim().cluster.idle();
    const middle = sim().store.allocs.get(original)?.NextAllocation ?? '';
    sim().cluster.failTask(middle, 'redis');
    await sim().cluster.idle();
    const { body } = await getJson(sim().url, `/v1/allocation/${middle}`);
    const sample = asRecord(fixture('nomad-allocation-read.json'));
    // The docs print RescheduleTracker's Delay as a string; Nomad's encoder writes durations as integers.
    const tracker = asRecord(sample['RescheduleTracker']);
    const event = asRecord(asArray(tracker['Events'])[0]);
    event['Delay'] = 5_000_000_000;
    const differences = shapeDifferences(sample, body, { mapKeys: MAPS, shallowKeys: new Set(['Job']), omitEmpty: true });
    expect(differences).toEqual([]);
    const alloc = asRecord(body);
    expect(alloc['PreviousAllocation']).toBe(original);
    expect(alloc['DesiredDescription']).toBeUndefined();
    const job = asRecord(alloc['Job']);
    // Nomad 1.9 removed the legacy Vault token workflow and with it Job.VaultToken.
    const { VaultToken: _removed, ...sampleJob } = asRecord(sample['Job']);
    expect(shapeDifferences(sampleJob, job, { shallowKeys: new Set(['TaskGroups', 'Meta', 'Update']) })).toEqual([]);
  });

  it('should answer services, stop, signal and restart with the documented shapes', async () => {
    const id = await runningServiceAlloc();
    const services = await getJson(sim().url, `/v1/allocation/${id}/services`);
    const [sampleService] = asArray(fixture('nomad-allocation-services.json'));
    const [service] = asArray(services.body);
    expect(shapeDifferences(sampleService, service)).toEqual([]);
    expect(asRecord(service)['ID']).toMatch(new RegExp(`^_nomad-task-${id}-redis-redis-cache-db$`));

    const signal = await send(sim().url, `/v1/client/allocation/${id}/signal`, { method: 'POST', body: '{"Signal":"SIGUSR1"}' });
    expect([signal.status, signal.text]).toEqual([200, '{"Index":0}']);
    expect(signal.headers.get('x-nomad-index')).toBeNull();
    const restart = await send(sim().url, `/v1/client/allocation/${id}/restart`, { method: 'PUT', body: '{"TaskName":"redis"}' });
    expect([restart.status, restart.text]).toEqual([200, '{"Index":0}']);

    const stop = await send(sim().url, `/v1/allocation/${id}/stop`, { method: 'POST' });
    expect(stop.status).toBe(200);
    const stopBody = asRecord(parseNomadJson(stop.text));
    expect(shapeDifferences(fixture('nomad-allocation-stop.json'), stopBody)).toEqual([]);
    expect(stop.headers.get('x-nomad-index')).toBe(String(stopBody['Index']));
    expect(stop.headers.get('x-nomad-knownleader')).toBeNull();
  });

  it('should send sorted keys, JSON content type, no trailing newline, and the X-Nomad headers on reads', async () => {
    const id = await runningServiceAlloc();
    const response = await send(sim().url, `/v1/allocation/${id}`);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.text.endsWith('\n')).toBe(false);
    const keys = Object.keys(asRecord(parseNomadJson(response.text)));
    expect(keys).toEqual([...keys].sort());
    expect(response.headers.get('x-nomad-index')).toMatch(/^\d+$/);
    expect(response.headers.get('x-nomad-knownleader')).toBe('true');
    expect(response.headers.get('x-nomad-lastcontact')).toBe('0');
    const pretty = await send(sim().url, `/v1/allocation/${id}?pretty`);
    expect(pretty.text.endsWith('}\n')).toBe(true);
    expect(pretty.text).toContain('\n    "ClientStatus": ');
  });

  it('should write CreateTime as an exact integer of nanoseconds', async () => {
    const id = await runningServiceAlloc();
    const response = await send(sim().url, `/v1/allocation/${id}`);
    const expected = sim().store.allocs.get(id)?.CreateTime;
    expect(response.text).toContain(`"CreateTime":${expected}`);
    expect(expected).toBeGreaterThan(2n ** 53n);
  });

  it('should gzip a large body when the client accepts gzip', async () => {
    const { request } = await import('undici');
    const response = await request(`${sim().url}/v1/allocations?namespace=*`, { headers: { 'accept-encoding': 'gzip' } });
    const raw = Buffer.from(await response.body.arrayBuffer());
    expect(response.headers['content-encoding']).toBe('gzip');
    const { gunzipSync } = await import('node:zlib');
    expect(asArray(parseNomadJson(gunzipSync(raw).toString('utf8'))).length).toBeGreaterThan(0);
  });

  it('should keep the stub keys that the full allocation omits when empty', async () => {
    await runningServiceAlloc();
    const { body } = await getJson(sim().url, '/v1/allocations?task_states=false');
    const stub = asRecord(asArray(body)[0]);
    expect(stub['TaskStates']).toBeNull();
    expect(stub['DesiredDescription']).toBe('');
    expect(asRecord(stub['DesiredTransition'])).toEqual({
      ForceReschedule: null,
      Migrate: null,
      MigrateDisablePlacement: null,
      NoShutdownDelay: null,
      Reschedule: null,
    });
    const withResources = await getJson(sim().url, '/v1/allocations?resources=true');
    expect(asRecord(asArray(withResources.body)[0])['AllocatedResources']).toBeTypeOf('object');
  });
});
