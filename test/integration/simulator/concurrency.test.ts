import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { send } from '../../helpers/http.ts';
import { useSimulator } from '../../helpers/simulator.ts';

/**
 * A load generator in its own process, so the 10 000 client sockets do not share this
 * process's file-descriptor limit with the simulator's 10 000 server sockets.
 */
const LOAD_SCRIPT = `
const [url, count] = process.argv.slice(1);
const statuses = await Promise.all(
  Array.from({ length: Number(count) }, () =>
    fetch(url).then(async (r) => { await r.arrayBuffer(); return String(r.status); }, (e) => 'error: ' + (e.cause?.code ?? e.message)),
  ),
);
const tally = {};
for (const s of statuses) tally[s] = (tally[s] ?? 0) + 1;
process.stdout.write(JSON.stringify(tally));
`;

describe('simulator under load', () => {
  const sim = useSimulator();
  const COUNT = 10_000;

  it('should hold 10 000 concurrent blocking queries, keep serving, and release them all on a change', { timeout: 90_000 }, async () => {
    sim().cluster.createJob({ id: 'seed' });
    await sim().cluster.idle();
    const index = sim().store.tableIndex.allocs;
    const url = `${sim().url}/v1/allocations?index=${index}&wait=60s&per_page=1&task_states=false`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', LOAD_SCRIPT, url, String(COUNT)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));

    await expect.poll(() => sim().blockingInFlight(), { timeout: 60_000, interval: 200 }).toBe(COUNT);
    expect((await send(sim().url, '/v1/allocations')).status).toBe(200);

    sim().cluster.createJob({ id: 'wake-everyone' });
    expect(await exited).toBe(0);
    expect(JSON.parse(output)).toEqual({ '200': COUNT });
    expect(sim().blockingInFlight()).toBe(0);
  });
});
