import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { addScaleAllocations, DEFAULT_SCALE_ALLOCATIONS, SCENARIOS } from '../../../src/simulator/scenarios.ts';
import { asArray, asRecord, getJson } from '../../helpers/http.ts';
import { useSimulator } from '../../helpers/simulator.ts';

/**
 * The `scale` scenario: many allocations, made through the ordinary Cluster API in seconds, that
 * list and page like any others. Sizes here are small; the benchmark uses 100 000.
 */

const COUNT = 2_000;

interface Stub {
  ID: string;
  Namespace: string;
  JobID: string;
  NodeID: string;
  ClientStatus: string;
}

function stubs(body: unknown): Stub[] {
  return asArray(body).map((item) => {
    const record = asRecord(item);
    return {
      ID: String(record['ID']),
      Namespace: String(record['Namespace']),
      JobID: String(record['JobID']),
      NodeID: String(record['NodeID']),
      ClientStatus: String(record['ClientStatus']),
    };
  });
}

/** Every stub of `/v1/allocations?<query>`, following X-Nomad-Nexttoken. */
async function walk(baseUrl: string, query: string): Promise<{ pages: number; items: Stub[] }> {
  const items: Stub[] = [];
  let token = '';
  for (let pages = 1; pages < 1_000; pages++) {
    const tokenParam = token === '' ? '' : `&next_token=${encodeURIComponent(token)}`;
    const { body, headers } = await getJson(baseUrl, `/v1/allocations?${query}${tokenParam}`);
    items.push(...stubs(body));
    token = headers.get('x-nomad-nexttoken') ?? '';
    if (token === '') return { pages, items };
  }
  throw new Error('paging did not end');
}

describe('simulator scale scenario', () => {
  const sim = useSimulator();

  beforeAll(async () => {
    addScaleAllocations(sim().cluster, COUNT);
    await sim().cluster.idle();
  });

  it('should be a known scenario holding 100 000 allocations by default', () => {
    expect(SCENARIOS).toContain('scale');
    expect(DEFAULT_SCALE_ALLOCATIONS).toBe(100_000);
  });

  it('should hold exactly the allocations asked for, all running once the clients have started them', () => {
    const allocs = [...sim().store.allocs.values()];
    expect(allocs).toHaveLength(COUNT);
    expect(new Set(allocs.map((a) => a.ClientStatus))).toEqual(new Set(['running']));
    expect(allocs.every((a) => Object.values(a.TaskStates ?? {}).every((state) => state.State === 'running'))).toBe(true);
  });

  it('should spread them over several namespaces, jobs of 250 and nodes', () => {
    const allocs = [...sim().store.allocs.values()];
    expect(new Set(allocs.map((a) => a.Namespace))).toEqual(new Set(['default', 'prod', 'staging', 'analytics']));
    expect(sim().store.jobs.size).toBe(COUNT / 250);
    // One node per 400 allocations (at least 3) besides `empty`'s client-1; the scheduler places
    // on all of them.
    expect(sim().store.nodes.size).toBe(1 + COUNT / 400);
    expect(new Set(allocs.map((a) => a.NodeID)).size).toBe(1 + COUNT / 400);
    // Service jobs register their Nomad services, batch jobs none.
    expect(sim().store.services.size).toBeGreaterThan(0);
  });

  it('should page through every allocation across namespaces with no gap or duplicate', async () => {
    const { pages, items } = await walk(sim().url, 'namespace=*&per_page=500&task_states=false');
    expect(pages).toBe(COUNT / 500);
    expect(new Set(items.map((a) => a.ID)).size).toBe(COUNT);
    const all = stubs((await getJson(sim().url, '/v1/allocations?namespace=*&task_states=false')).body);
    expect(items.map((a) => a.ID)).toEqual(all.map((a) => a.ID));
  });

  it('should list each namespace on its own, adding up to the whole', async () => {
    let total = 0;
    for (const namespace of ['default', 'prod', 'staging', 'analytics']) {
      const listed = stubs((await getJson(sim().url, `/v1/allocations?namespace=${namespace}&task_states=false`)).body);
      expect(listed.every((a) => a.Namespace === namespace)).toBe(true);
      total += listed.length;
    }
    expect(total).toBe(COUNT);
  });

  it('should refuse a count that is not a whole number', () => {
    expect(() => addScaleAllocations(sim().cluster, -1)).toThrow(RangeError);
    expect(() => addScaleAllocations(sim().cluster, 1.5)).toThrow(RangeError);
  });
});

/** `npm run simulator` with `env`: the listening line, or the exit code and output when it fails. */
function startSimulatorProcess(env: Record<string, string>): Promise<{ line: string; stop: () => Promise<void> } | { code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/simulator/main.ts'], {
    cwd: new URL('../../../', import.meta.url),
    env: { PATH: process.env['PATH'] ?? '', SIMULATOR_PORT: '0', SIMULATOR_CHURN_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  return new Promise((resolve) => {
    const onLine = (line: string): void => {
      output.push(line);
      if (line.includes('listening on')) {
        resolve({
          line,
          stop: async () => {
            const exited = once(child, 'exit');
            child.kill('SIGTERM');
            await exited;
          },
        });
      }
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.once('exit', (code) => resolve({ code, output: output.join('\n') }));
  });
}

describe('npm run simulator with SIMULATOR_SCENARIO=scale', () => {
  it('should announce itself once SIMULATOR_ALLOCATIONS allocations run', async () => {
    const started = await startSimulatorProcess({ SIMULATOR_SCENARIO: 'scale', SIMULATOR_ALLOCATIONS: '1200' });
    if (!('line' in started)) throw new Error(`simulator exited (${started.code}):\n${started.output}`);
    onTestFinished(started.stop);
    expect(started.line).toContain('(scenario scale, 1200 allocations)');
    const url = /listening on (http:\/\/\S+)/.exec(started.line)?.[1] ?? '';
    const listed = stubs((await getJson(url, '/v1/allocations?namespace=*&task_states=false')).body);
    expect(listed).toHaveLength(1200);
    expect(new Set(listed.map((a) => a.ClientStatus))).toEqual(new Set(['running']));
  });

  it('should refuse SIMULATOR_ALLOCATIONS that is not a whole number, or without the scale scenario', async () => {
    for (const env of [
      { SIMULATOR_SCENARIO: 'scale', SIMULATOR_ALLOCATIONS: 'lots' },
      { SIMULATOR_SCENARIO: 'scale', SIMULATOR_ALLOCATIONS: '-5' },
      { SIMULATOR_SCENARIO: 'demo', SIMULATOR_ALLOCATIONS: '10' },
    ]) {
      const started = await startSimulatorProcess(env);
      if ('line' in started) {
        await started.stop();
        throw new Error(`the simulator started with ${JSON.stringify(env)}`);
      }
      expect(started.code).toBe(2);
      expect(started.output).toContain('SIMULATOR_ALLOCATIONS');
    }
  });
});
