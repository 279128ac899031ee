import { beforeAll, describe, expect, it } from 'vitest';
import { asArray, asRecord, send } from '../../helpers/http.ts';
import { useSimulator } from '../../helpers/simulator.ts';

describe('simulator ACLs', () => {
  const sim = useSimulator({ acl: true });
  let defaultAlloc = '';
  let prodAlloc = '';
  const tokens = { reader: '', prodReader: '', lifecycle: '', listOnly: '', nodeReader: '' };

  beforeAll(async () => {
    defaultAlloc = sim().cluster.createJob({ id: 'app', count: 2 }).allocations[0]?.ID ?? '';
    prodAlloc = sim().cluster.createJob({ id: 'app', namespace: 'prod', count: 2 }).allocations[0]?.ID ?? '';
    await sim().cluster.idle();
    tokens.reader = sim().acl.createToken({ namespaces: { default: { policy: 'read' } } }).SecretID;
    tokens.prodReader = sim().acl.createToken({ namespaces: { prod: { capabilities: ['read-job'] } } }).SecretID;
    tokens.lifecycle = sim().acl.createToken({ namespaces: { '*': { capabilities: ['read-job', 'alloc-lifecycle'] } } }).SecretID;
    tokens.listOnly = sim().acl.createToken({ namespaces: { default: { capabilities: ['list-jobs'] } } }).SecretID;
    tokens.nodeReader = sim().acl.createToken({ node: 'read' }).SecretID;
  });

  function as(token: string): Record<string, string> {
    return { 'X-Nomad-Token': token };
  }

  it('should require read-job in the namespace to list, list-jobs is not enough', async () => {
    expect((await send(sim().url, '/v1/allocations', { headers: as(tokens.reader) })).status).toBe(200);
    expect(await send(sim().url, '/v1/allocations', { headers: as(tokens.listOnly) })).toMatchObject({ status: 403, text: 'Permission denied' });
    expect(await send(sim().url, '/v1/allocations?namespace=prod', { headers: as(tokens.reader) })).toMatchObject({ status: 403 });
  });

  it('should silently keep only readable namespaces with namespace=*', async () => {
    const response = await send(sim().url, '/v1/allocations?namespace=*', { headers: as(tokens.prodReader) });
    const namespaces = new Set(asArray(JSON.parse(response.text)).map((a) => asRecord(a)['Namespace']));
    expect([...namespaces]).toEqual(['prod']);
  });

  it('should treat no token as anonymous, and an unknown token as 403', async () => {
    expect(await send(sim().url, '/v1/allocations')).toMatchObject({ status: 403, text: 'Permission denied' });
    expect(await send(sim().url, '/v1/allocations', { headers: as('00000000-0000-4000-8000-000000000000') })).toMatchObject({ status: 403 });
    expect(await send(sim().url, '/v1/allocations', { headers: { Authorization: `Bearer ${tokens.reader}` } })).toMatchObject({ status: 200 });
    expect(await send(sim().url, '/v1/allocations', { headers: { Authorization: `Basic ${tokens.reader}` } })).toMatchObject({ status: 403 });
  });

  it('should hide an allocation the token cannot read behind Nomad\'s 500 Unknown allocation', async () => {
    expect((await send(sim().url, `/v1/allocation/${prodAlloc}`, { headers: as(tokens.prodReader) })).status).toBe(200);
    expect(await send(sim().url, `/v1/allocation/${prodAlloc}`, { headers: as(tokens.reader) })).toMatchObject({
      status: 500,
      text: `Unknown allocation "${prodAlloc}"`,
    });
  });

  it('should require alloc-lifecycle to stop, signal and restart, after the lookup', async () => {
    const signal = { method: 'POST', body: '{"Signal":"SIGHUP"}' };
    expect(await send(sim().url, `/v1/client/allocation/${defaultAlloc}/signal`, { ...signal, headers: as(tokens.reader) })).toMatchObject({ status: 403, text: 'Permission denied' });
    expect((await send(sim().url, `/v1/client/allocation/${defaultAlloc}/signal`, { ...signal, headers: as(tokens.lifecycle) })).status).toBe(200);
    expect(await send(sim().url, `/v1/client/allocation/${defaultAlloc}/restart`, { method: 'PUT', headers: as(tokens.reader) })).toMatchObject({ status: 403 });
    expect((await send(sim().url, `/v1/client/allocation/${defaultAlloc}/restart`, { method: 'PUT', headers: as(tokens.lifecycle) })).status).toBe(200);
    expect(await send(sim().url, `/v1/allocation/${defaultAlloc}/stop`, { method: 'POST', headers: as(tokens.reader) })).toMatchObject({ status: 403 });
    const unknown = '11111111-2222-4333-8444-555555555555';
    expect(await send(sim().url, `/v1/allocation/${unknown}/stop`, { method: 'POST', headers: as(tokens.reader) })).toMatchObject({ status: 404, text: 'allocation not found' });
    expect((await send(sim().url, `/v1/allocation/${prodAlloc}/stop`, { method: 'POST', headers: as(tokens.lifecycle) })).status).toBe(200);
  });

  it('should check services against the request namespace', async () => {
    expect((await send(sim().url, `/v1/allocation/${prodAlloc}/services?namespace=prod`, { headers: as(tokens.prodReader) })).status).toBe(200);
    expect(await send(sim().url, `/v1/allocation/${prodAlloc}/services`, { headers: as(tokens.prodReader) })).toMatchObject({ status: 403 });
    expect(await send(sim().url, `/v1/allocation/${prodAlloc}/services`, { headers: as(tokens.reader) })).toMatchObject({ status: 404, text: 'allocation not found' });
  });

  it('should give the anonymous policy\'s rights to requests without a token', async () => {
    sim().acl.setAnonymousPolicy({ namespaces: { default: { policy: 'read' } } });
    try {
      expect((await send(sim().url, '/v1/allocations')).status).toBe(200);
      expect((await send(sim().url, '/v1/allocations?namespace=prod')).status).toBe(403);
    } finally {
      sim().acl.setAnonymousPolicy({});
    }
  });

  it('should need node read for nodes and read-job for jobs', async () => {
    const nodeId = sim().store.allocs.get(defaultAlloc)?.NodeID ?? '';
    expect((await send(sim().url, `/v1/node/${nodeId}`, { headers: as(tokens.nodeReader) })).status).toBe(200);
    expect((await send(sim().url, `/v1/node/${nodeId}`, { headers: as(tokens.reader) })).status).toBe(403);
    expect((await send(sim().url, '/v1/job/app', { headers: as(tokens.reader) })).status).toBe(200);
    expect((await send(sim().url, '/v1/job/app?namespace=prod', { headers: as(tokens.reader) })).status).toBe(403);
    expect((await send(sim().url, `/v1/allocation/${defaultAlloc}`, { headers: as(sim().acl.managementToken.SecretID) })).status).toBe(200);
  });
});
