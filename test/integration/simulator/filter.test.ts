import { beforeAll, describe, expect, it } from 'vitest';
import { asArray, asRecord, send } from '../../helpers/http.ts';
import { useSimulator } from '../../helpers/simulator.ts';

describe('simulator filter expressions', () => {
  const sim = useSimulator();
  let failedId = '';

  beforeAll(async () => {
    sim().cluster.createJob({ id: 'web', count: 3, meta: { owner: 'team-a' }, groups: [{ name: 'frontend', count: 3, tasks: [{ name: 'nginx' }] }] });
    sim().cluster.createJob({ id: 'report', type: 'batch', count: 2 });
    await sim().cluster.idle();
    const { allocations } = sim().cluster.createJob({ id: 'flaky', type: 'batch', count: 1 });
    await sim().cluster.idle();
    failedId = allocations[0]?.ID ?? '';
    sim().cluster.failTask(failedId, 'server');
  });

  async function ids(filter: string, extra = ''): Promise<{ status: number; text: string; jobs: string[] }> {
    const response = await send(sim().url, `/v1/allocations?filter=${encodeURIComponent(filter)}${extra}`);
    const jobs = response.status === 200 ? asArray(JSON.parse(response.text)).map((a) => String(asRecord(a)['JobID'])) : [];
    return { ...response, jobs };
  }

  it('should select on top-level fields, nested job fields and task states', async () => {
    expect((await ids('JobID == "web"')).jobs).toEqual(['web', 'web', 'web']);
    expect((await ids('Job.Type == "batch"')).jobs.sort()).toEqual(['flaky', 'report', 'report']);
    expect((await ids('ClientStatus == "failed"')).jobs).toEqual(['flaky']);
    // A task missing from some allocation's TaskStates would be an error; `and` short-circuits it.
    expect((await ids('JobID == "web" and TaskStates.nginx.State == "running"')).jobs).toEqual(['web', 'web', 'web']);
    expect((await ids('TaskStates.nginx.State == "running"')).status).toBe(400);
    expect((await ids('Job.Meta.owner == "team-a" and TaskGroup == frontend')).jobs).toHaveLength(3);
    expect((await ids('"nginx" in TaskStates')).jobs).toHaveLength(3);
    expect((await ids('JobID matches "^rep" or not (ClientStatus != "failed")')).jobs.sort()).toEqual(['flaky', 'report', 'report']);
  });

  it('should refuse escaped quotes inside a string, as go-bexpr does, and keep raw strings as data', async () => {
    const injected = await ids('JobID == "web\\" or \\"1\\" == \\"1"');
    expect(injected.status).toBe(400);
    expect(injected.text).toBe('failed to create result paginator: failed to read filter expression: 1:10 (9): rule "string": invalid syntax');
    const raw = await ids('JobID == `web" or "1" == "1`');
    expect([raw.status, raw.jobs]).toEqual([200, []]);
  });

  it('should treat a missing key of a nil map as absent, not as an error', async () => {
    expect((await ids('Job.Meta.nope == "x"')).jobs).toEqual([]);
    expect((await ids('Job.Meta.owner == "team-a"')).jobs).toEqual(['web', 'web', 'web']);
  });

  it('should answer a syntax error with Nomad\'s 400 and the parser position', async () => {
    const response = await ids('NotValid');
    expect(response.status).toBe(400);
    expect(response.text).toBe(
      'failed to create result paginator: failed to read filter expression: 1:9 (8): no match found, expected: "!=", ".", "==", "[", [ \\t\\r\\n] or [a-zA-Z0-9_/]',
    );
    const unterminated = await ids('ClientStatus == "runn');
    expect(unterminated.status).toBe(400);
    expect(unterminated.text).toBe('failed to create result paginator: failed to read filter expression: 1:22 (21): rule "string": Unterminated string literal');
  });

  it('should answer an unknown field or a missing map key with a 400 that aborts the whole request', async () => {
    const unknown = await ids('InvalidField == "x"');
    expect(unknown).toMatchObject({
      status: 400,
      text: 'failed to read result page: error finding value in datum: /InvalidField at part 0: couldn\'t find key: struct field with name "InvalidField"',
    });
    const missing = await ids('TaskStates.nope.State == "running"');
    expect(missing).toMatchObject({
      status: 400,
      text: 'failed to read result page: error finding value in datum: /TaskStates/nope/State at part 1: couldn\'t find key "nope"',
    });
  });

  it('should return an empty list for any valid filter over an empty namespace', async () => {
    sim().cluster.createNamespace('empty-ns');
    const response = await ids('InvalidField == "x"', '&namespace=empty-ns');
    expect([response.status, response.text]).toEqual([200, '[]']);
  });
});
