import { describe, expect, it, onTestFinished } from 'vitest';
import { startSimulator, type Simulator } from '../../../src/simulator/server.ts';
import { eventually } from '../../helpers/async-queue.ts';
import {
  allInitial,
  converged,
  leaseHolders,
  problemsOf,
  runningAlloc,
  sampleMax,
  startChurn,
  soleLeaseHolder,
  startReplicas,
  stopThrough,
  storeView,
  subscribeMany,
  type LiveSubscriber,
} from '../../helpers/live-replicas.ts';
import { connectRedis } from '../../helpers/redis-connection.ts';
import { startRedisServer } from '../../helpers/redis-server.ts';
import { startTcpProxy } from '../../helpers/tcp-proxy.ts';

/**
 * The live layer across replica processes when something fails for real: the replica running the
 * upstream watcher is SIGKILLed, redis-server is SIGKILLed and restarted, the path to Nomad is cut.
 */

async function startSim(): Promise<Simulator> {
  const sim = await startSimulator({ scenario: 'empty', timing: { schedulerMs: 5, clientMs: 5 } });
  onTestFinished(() => sim.stop());
  return sim;
}

function settled(subscribers: readonly LiveSubscriber[]): void {
  expect(problemsOf(subscribers)).toEqual([]);
  expect(subscribers.filter((s) => s.errors.length > 0 || s.completed).map((s) => s.label)).toEqual([]);
}

describe('allocationChanges across two gateway processes when things fail', () => {
  it('should move the watcher to the surviving replica when the lease holder is SIGKILLed, losing no change', async () => {
    const [sim, redisServer] = await Promise.all([startSim(), startRedisServer()]);
    sim.cluster.createJob({ id: 'web', count: 4 });
    await sim.cluster.idle();
    const replicas = await startReplicas(['replica-a', 'replica-b'], { nomadAddr: sim.url, redisUrl: redisServer.url, leaseTtlMs: 1_500 });
    const { redis } = await connectRedis(redisServer.url);
    const groups = replicas.map((replica) => ({ replica, ...subscribeMany(replica, { clients: 3, perClient: 3 }) }));
    await allInitial(groups.flatMap((g) => g.subscribers));
    const { key, holder } = await soleLeaseHolder(redis);
    const leader = groups.find((g) => g.replica.replicaId === holder);
    const survivor = groups.find((g) => g.replica.replicaId !== holder);
    if (leader === undefined || survivor === undefined) throw new Error(`the lease holder ${holder} is neither replica`);
    await eventually(async () => sim.blockingInFlight() === 1, 'the leader to park its blocking query');

    await leader.replica.kill('SIGKILL');
    const killed = performance.now();
    // Made while the dead replica still holds the lease (nobody watches Nomad): it must not be lost.
    sim.cluster.failTask(runningAlloc(sim), 'server');
    await sim.cluster.idle();
    expect(await redis.get(key)).toBe(holder);
    await converged(survivor.subscribers, () => storeView(sim), { timeoutMs: 6_000, what: 'the change made before the takeover' });
    const caughtUp = performance.now() - killed;
    expect(await redis.get(key)).toBe(survivor.replica.replicaId);
    // The dead replica's request died with its sockets: one blocking query, the survivor's.
    await eventually(async () => sim.blockingInFlight() === 1, 'the survivor to park its blocking query');
    const blocking = sampleMax(() => sim.blockingInFlight());

    const changed = performance.now();
    await stopThrough(survivor.replica, runningAlloc(sim));
    sim.cluster.createJob({ id: 'api', count: 2 });
    await sim.cluster.idle();
    await converged(survivor.subscribers, () => storeView(sim), { timeoutMs: 3_000, what: 'the changes made after the takeover' });
    const afterTakeover = performance.now() - changed;

    settled(survivor.subscribers);
    expect(blocking.max).toBeLessThanOrEqual(1);
    expect(survivor.connections.every((c) => c.counts.connected === 1 && c.counts.closed === 0)).toBe(true);
    expect(leader.connections.every((c) => c.counts.closed === 1)).toBe(true);
    console.info(`survivor caught up ${Math.round(caughtUp)} ms after the kill (lease TTL 1500 ms); later changes arrived in ${Math.round(afterTakeover)} ms`);
  });

  it('should keep subscriptions open through a Redis crash and restart mid-stream, and deliver the changes made meanwhile', async () => {
    const [sim, redisServer] = await Promise.all([startSim(), startRedisServer()]);
    sim.cluster.createJob({ id: 'web', count: 4 });
    await sim.cluster.idle();
    const replicas = await startReplicas(['replica-a', 'replica-b'], { nomadAddr: sim.url, redisUrl: redisServer.url });
    const { redis } = await connectRedis(redisServer.url);
    const groups = replicas.map((replica) => ({ replica, ...subscribeMany(replica, { clients: 3, perClient: 3 }) }));
    const subscribers = groups.flatMap((g) => g.subscribers);
    await allInitial(subscribers);
    const { holder } = await soleLeaseHolder(redis);
    const leader = groups.find((g) => g.replica.replicaId === holder);
    const follower = groups.find((g) => g.replica.replicaId !== holder);
    if (leader === undefined || follower === undefined) throw new Error(`the lease holder ${holder} is neither replica`);

    const churn = startChurn(sim);
    const eventsOf = (s: LiveSubscriber): number => s.events.length;
    const before = subscribers.map(eventsOf);
    await eventually(async () => subscribers.every((s, i) => eventsOf(s) >= (before[i] ?? 0) + 2), 'the stream to flow');

    await redisServer.kill('SIGKILL');
    const down = performance.now();
    await stopThrough(follower.replica, runningAlloc(sim));
    // The leader cannot publish: it hands what changes to its own subscribers; the follower hears nothing.
    const leaderBefore = leader.subscribers.map(eventsOf);
    const followerBefore = follower.subscribers.map(eventsOf);
    await eventually(async () => leader.subscribers.every((s, i) => eventsOf(s) >= (leaderBefore[i] ?? 0) + 3), "the leader's subscribers to get changes while Redis is down");
    expect(follower.subscribers.map(eventsOf)).toEqual(followerBefore);
    await redisServer.restart();
    const up = performance.now();
    // The follower missed messages: it re-reads its view once Redis is back and sends the difference.
    await eventually(async () => follower.subscribers.every((s, i) => eventsOf(s) > (followerBefore[i] ?? 0)), "the follower's subscribers to hear again", { timeoutMs: 6_000 });
    const recovered = performance.now() - up;
    await soleLeaseHolder(redis);
    await churn.stop();
    await converged(subscribers, () => storeView(sim), { timeoutMs: 5_000, what: 'every subscriber to see every change' });

    settled(subscribers);
    // graphql-ws clients never noticed: no close, no reconnect.
    const connections = groups.flatMap((g) => g.connections);
    expect(connections.map((c) => c.counts)).toEqual(connections.map(() => ({ connected: 1, closed: 0 })));
    console.info(`Redis down ${Math.round(up - down)} ms; follower heard again ${Math.round(recovered)} ms after its restart; ${churn.changes} scripted changes, ${subscribers[0]?.events.length} events`);
  });

  it('should tell subscribers once that Nomad is unreachable, then once that it is back, with what changed meanwhile', async () => {
    const [sim, redisServer] = await Promise.all([startSim(), startRedisServer()]);
    sim.cluster.createJob({ id: 'web', count: 4 });
    await sim.cluster.idle();
    const proxy = await startTcpProxy(sim.port);
    onTestFinished(() => proxy.close());
    const replicas = await startReplicas(['replica-a', 'replica-b'], { nomadAddr: proxy.url, redisUrl: redisServer.url });
    const { redis } = await connectRedis(redisServer.url);
    const subscribers = replicas.flatMap((replica) => subscribeMany(replica, { clients: 2, perClient: 3 }).subscribers);
    await allInitial(subscribers);
    await soleLeaseHolder(redis);
    await eventually(async () => sim.blockingInFlight() === 1, 'the leader to park its blocking query');

    await proxy.cut();
    await eventually(async () => subscribers.every((s) => s.events.some((e) => !e.nomadReachable)), 'every subscriber to hear Nomad is unreachable');
    const target = runningAlloc(sim);
    sim.cluster.failTask(target, 'server');
    await sim.cluster.idle();
    const failedAt = sim.store.allocs.get(target)?.ModifyIndex;
    await proxy.restore();
    const restored = performance.now();
    await converged(subscribers, () => storeView(sim), { timeoutMs: 8_000, what: 'the changes made while Nomad was unreachable' });
    const back = performance.now() - restored;
    expect(await leaseHolders(redis)).toHaveProperty('size', 1);

    settled(subscribers);
    for (const subscriber of subscribers) {
      const outage = subscriber.events.findIndex((e) => !e.nomadReachable);
      expect(subscriber.events.filter((e) => !e.nomadReachable), subscriber.label).toHaveLength(1);
      const after = subscriber.events[outage + 1];
      expect(after?.nomadReachable, subscriber.label).toBe(true);
      expect(after?.updated.find((u) => u.allocId === target)?.modifyIndex, subscriber.label).toBe(failedAt);
    }
    console.info(`every view current ${Math.round(back)} ms after Nomad came back`);
  });
});
