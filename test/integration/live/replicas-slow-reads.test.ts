import { describe, expect, it, onTestFinished } from 'vitest';
import { startSimulator, type Simulator } from '../../../src/simulator/server.ts';
import type { GatewayProcess } from '../../helpers/gateway-process.ts';
import { eventually } from '../../helpers/async-queue.ts';
import {
  CHANGES_SELECTIONS,
  allInitial,
  converged,
  problemsOf,
  runningAlloc,
  soleLeaseHolder,
  startReplicas,
  storeView,
  subscribeMany,
  type LiveSubscriber,
} from '../../helpers/live-replicas.ts';
import { connectRedis } from '../../helpers/redis-connection.ts';
import { startRedisServer } from '../../helpers/redis-server.ts';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.ts';

/**
 * A follower replica whose own reads of Nomad are slow (a large list takes a while to page), while
 * the leader's messages reach it quickly through Redis: a message may overtake the follower's
 * read. Replica B reaches the simulator through a proxy that holds its answers back on demand, so
 * the overtaking happens every time rather than once in a while.
 */

/** Selections whose events need no further Nomad reads (a held read would hold the event too). */
const PLAIN = [CHANGES_SELECTIONS[0], CHANGES_SELECTIONS[1]];

interface Setup {
  sim: Simulator;
  proxy: TcpProxy;
  leader: GatewayProcess;
  follower: GatewayProcess;
  onLeader: LiveSubscriber[];
}

/** Replica A (direct to Nomad) leads the key with subscribers; replica B goes through `proxy`. */
async function setUp(): Promise<Setup & { redis: Awaited<ReturnType<typeof connectRedis>>['redis'] }> {
  const [sim, redisServer] = await Promise.all([startSimulator({ scenario: 'empty', timing: { schedulerMs: 5, clientMs: 5 } }), startRedisServer()]);
  onTestFinished(() => sim.stop());
  sim.cluster.createJob({ id: 'web', count: 4 });
  await sim.cluster.idle();
  const proxy = await startTcpProxy(sim.port);
  onTestFinished(() => proxy.close());
  // A lease that cannot change hands during the test.
  const timing = { redisUrl: redisServer.url, leaseTtlMs: 20_000 };
  const [leader] = await startReplicas(['replica-a'], { nomadAddr: sim.url, ...timing });
  const [follower] = await startReplicas(['replica-b'], { nomadAddr: proxy.url, ...timing });
  if (leader === undefined || follower === undefined) throw new Error('unreachable');
  const { redis } = await connectRedis(redisServer.url);
  const onLeader = subscribeMany(leader, { clients: 1, perClient: 2, selections: PLAIN }).subscribers;
  await allInitial(onLeader);
  expect((await soleLeaseHolder(redis)).holder).toBe(leader.replicaId);
  return { sim, proxy, leader, follower, onLeader, redis };
}

/**
 * One write and nothing after it (a signal to a task: no scheduler or client step follows), then
 * waits until the leader's subscribers have it: the leader has published it.
 */
async function changeAndPublish(sim: Simulator, onLeader: readonly LiveSubscriber[]): Promise<void> {
  await sim.cluster.idle();
  const target = runningAlloc(sim);
  sim.cluster.signalTasks(target, ['server'], 'SIGHUP');
  const modifyIndex = sim.store.allocs.get(target)?.ModifyIndex;
  await eventually(async () => onLeader.every((s) => s.view.get(target) === modifyIndex), 'the leader to publish the change');
}

describe('allocationChanges on a replica whose reads are overtaken by the leader\'s messages', () => {
  it('should not lose a change published while a new watch reads its first view', async () => {
    const { sim, proxy, follower, onLeader } = await setUp();
    const listReads = sim.requestCount('GET /v1/allocations');

    proxy.holdResponses();
    const onFollower = subscribeMany(follower, { clients: 1, perClient: 2, selections: PLAIN }).subscribers;
    // The follower's first read has been answered (before the change) and waits in the proxy.
    await eventually(async () => sim.requestCount('GET /v1/allocations') > listReads && proxy.heldBytes() > 0, "the follower's first read to be answered");
    await changeAndPublish(sim, onLeader);
    proxy.releaseResponses();
    await allInitial(onFollower);

    await converged(onFollower, () => storeView(sim), { timeoutMs: 3_000, what: 'the change published during the first read' });
    expect(problemsOf([...onLeader, ...onFollower])).toEqual([]);
  });

  it('should not take subscribers back to an older view when a re-read is overtaken by a newer message', async () => {
    const { sim, proxy, follower, onLeader, redis } = await setUp();
    const onFollower = subscribeMany(follower, { clients: 1, perClient: 2, selections: PLAIN }).subscribers;
    await allInitial(onFollower);
    const listReads = sim.requestCount('GET /v1/allocations');

    // Both replicas' Redis subscriber connections drop (the lease stays with the leader): once
    // back, each re-reads its view, in case it missed a message. The follower's re-read is slow.
    proxy.holdResponses();
    await redis.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await eventually(async () => sim.requestCount('GET /v1/allocations') >= listReads + 2 && proxy.heldBytes() > 0, "the follower's re-read to be answered");
    // A newer change reaches the follower through Redis before its re-read does.
    await changeAndPublish(sim, onLeader);
    await converged(onFollower, () => storeView(sim), { timeoutMs: 3_000, what: 'the follower to apply the newer message' });
    proxy.releaseResponses();
    // The stale answer arrives now; it must change nothing. A later change shows the stream goes on.
    await eventually(async () => proxy.heldBytes() === 0, 'the held answer to be let through');
    await changeAndPublish(sim, onLeader);
    await sim.cluster.idle();
    await converged([...onLeader, ...onFollower], () => storeView(sim), { timeoutMs: 3_000 });
    expect(problemsOf([...onLeader, ...onFollower])).toEqual([]);
  });
});
