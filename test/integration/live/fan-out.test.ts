import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createAsyncQueue, type AsyncQueue } from '../../helpers/async-queue.ts';
import { startGatewayStack, type GatewayStack } from '../../helpers/gateway.ts';
import { asArray, asRecord } from '../../helpers/http.ts';

/**
 * The upstream reads a change causes do not grow with the number of subscribers: the allocations
 * of one event share their reads (job, node, services) among every subscriber of the watch key on
 * the replica, whatever each of them selects.
 */

const SUBSCRIBERS = 60;

const WITH_LINKS = `subscription {
  allocationChanges(namespace: "default") {
    index
    added { allocId job { jobId version } node { nodeId name } services { serviceName } }
    updated { allocId clientStatus job { jobId } node { nodeId } services { serviceName } }
  }
}`;

describe('fan-out of one watch key to many subscribers', () => {
  let stack: GatewayStack & { stop(): Promise<void> };
  const clients: Client[] = [];
  const streams: AsyncQueue<unknown>[] = [];

  beforeAll(async () => {
    stack = await startGatewayStack({ simulator: { scenario: 'empty' } });
    stack.sim.cluster.createJob({ id: 'web', count: 4 });
    stack.sim.cluster.createJob({ id: 'api', count: 2 });
    await stack.sim.cluster.idle();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await stack.stop();
  });

  function reads(): { jobs: number; nodes: number; services: number } {
    const { sim } = stack;
    return { jobs: sim.requestCount('GET /v1/job/:id'), nodes: sim.requestCount('GET /v1/node/:id'), services: sim.requestCount('GET /v1/job/:id/services') };
  }

  it('should read each job, node and services list once for the initial set, for all subscribers together', async () => {
    for (let c = 0; c < 6; c++) {
      const client = createClient({ url: `${stack.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
      clients.push(client);
    }
    const before = reads();
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const results: AsyncQueue<unknown> = createAsyncQueue();
      clients[i % clients.length]?.subscribe({ query: WITH_LINKS }, { next: results.push, error: results.push, complete: () => undefined });
      streams.push(results);
    }
    const firsts = await Promise.all(streams.map((s) => s.next(10_000)));
    for (const first of firsts) {
      const added = asArray(asRecord(asRecord(asRecord(first)['data'])['allocationChanges'])['added']);
      expect(added).toHaveLength(6);
    }
    const nodes = new Set([...stack.sim.store.allocs.values()].map((a) => a.NodeID));
    const after = reads();
    // Two jobs, their nodes and their services, however many subscribers.
    expect(after.jobs - before.jobs).toBe(2);
    expect(after.nodes - before.nodes).toBe(nodes.size);
    expect(after.services - before.services).toBe(2);
  });

  it('should read what one change links to once, not once per subscriber', async () => {
    const before = reads();
    const target = [...stack.sim.store.allocs.values()].find((a) => a.JobID === 'web');
    if (target === undefined) throw new Error('no web allocation');
    const release = stack.sim.cluster.hold();
    stack.sim.cluster.failTask(target.ID, 'server');
    const events = await Promise.all(streams.map((s) => s.next(10_000)));
    release();
    for (const event of events) {
      const updated = asArray(asRecord(asRecord(asRecord(event)['data'])['allocationChanges'])['updated']).map(asRecord);
      expect(updated.map((a) => a['allocId'])).toContain(target.ID);
    }
    const after = reads();
    expect(after.jobs - before.jobs).toBe(1);
    expect(after.nodes - before.nodes).toBe(1);
    expect(after.services - before.services).toBe(1);
  });
});
