import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startSimulator, type Simulator } from '../../../src/simulator/server.ts';
import { eventually, within } from '../../helpers/async-queue.ts';
import { startGatewayProcess } from '../../helpers/gateway-process.ts';
import {
  CHANGES_SELECTIONS,
  allInitial,
  connectWs,
  converged,
  leaseHolders,
  problemsOf,
  restartThrough,
  runningAlloc,
  sampleMax,
  soleLeaseHolder,
  startReplicas,
  stopThrough,
  storeView,
  subscribeChanges,
  subscribeMany,
} from '../../helpers/live-replicas.ts';
import { connectRedis } from '../../helpers/redis-connection.ts';
import { startRedisServer } from '../../helpers/redis-server.ts';

/**
 * The live layer across gateway replicas that are separate processes, sharing one real Redis, over
 * one simulator (in this process, so the test scripts the cluster and counts its parked blocking
 * queries). Failures (a killed replica, Redis or Nomad going away) are in replicas-failures.test.ts,
 * reads overtaken by messages in replicas-slow-reads.test.ts, tokens in replicas-acl.test.ts.
 */

/** The replicas' lease-store connections (named by main.ts) in order of creation, and whether each is blocked. */
async function leaseConnections(redis: Redis): Promise<{ id: number; addr: string; blocked: boolean }[]> {
  const list = String(await redis.call('CLIENT', 'LIST'));
  return list
    .split('\n')
    .map((line) => Object.fromEntries(line.trim().split(' ').map((field) => field.split('=', 2) as [string, string])))
    .filter((client) => client['name'] === 'nomad-gateway-pub')
    .map((client) => ({ id: Number(client['id']), addr: client['addr'] ?? '', blocked: (client['flags'] ?? '').includes('b') }))
    .sort((x, y) => x.id - y.id);
}

async function startSim(): Promise<Simulator> {
  const sim = await startSimulator({ scenario: 'empty', timing: { schedulerMs: 5, clientMs: 5 } });
  onTestFinished(() => sim.stop());
  return sim;
}

describe('allocationChanges across two gateway processes sharing Redis', () => {
  it('should give 200 subscribers on two replicas every change once, in index order, from one upstream blocking query', async () => {
    const [sim, redisServer] = await Promise.all([startSim(), startRedisServer()]);
    sim.cluster.createJob({ id: 'web', count: 6 });
    sim.cluster.createJob({ id: 'batch', namespace: 'prod', count: 1 });
    await sim.cluster.idle();
    const [a, b] = await startReplicas(['replica-a', 'replica-b'], { nomadAddr: sim.url, redisUrl: redisServer.url });
    if (a === undefined || b === undefined) throw new Error('unreachable');
    const { redis } = await connectRedis(redisServer.url);

    const onA = subscribeMany(a, { clients: 10, perClient: 10 });
    const onB = subscribeMany(b, { clients: 10, perClient: 10 });
    const subscribers = [...onA.subscribers, ...onB.subscribers];
    expect(subscribers).toHaveLength(200);
    await allInitial(subscribers);
    const { holder } = await soleLeaseHolder(redis);
    expect([a.replicaId, b.replicaId]).toContain(holder);
    await eventually(async () => sim.blockingInFlight() === 1, 'the leader to park its blocking query');

    const blocking = sampleMax(() => sim.blockingInFlight());
    const listReadsBefore = sim.requestCount('GET /v1/allocations');
    const touched = new Set<string>();
    const next = (): string => {
      const id = runningAlloc(sim, touched);
      touched.add(id);
      return id;
    };
    const started = performance.now();
    // A task fails (the alloc fails and is replaced), then a stop through one replica and a
    // restart through the other.
    sim.cluster.failTask(next(), 'server');
    await sim.cluster.idle();
    await stopThrough(a, next());
    await restartThrough(b, next());
    await sim.cluster.idle();
    await converged(subscribers, () => storeView(sim));
    // A burst: a new job, a failure and a restart in quick succession, and a change elsewhere.
    sim.cluster.createJob({ id: 'api', count: 3 });
    sim.cluster.failTask(next(), 'server');
    await restartThrough(a, next());
    sim.cluster.createJob({ id: 'cron', namespace: 'prod', count: 2 });
    await stopThrough(b, next());
    await sim.cluster.idle();
    await converged(subscribers, () => storeView(sim));
    const elapsed = performance.now() - started;
    blocking.stop();

    expect(problemsOf(subscribers)).toEqual([]);
    expect(subscribers.filter((s) => s.errors.length > 0 || s.completed).map((s) => s.label)).toEqual([]);
    // Both replicas applied the same messages in the same order: every subscriber saw the same indexes.
    const histories = new Set(subscribers.map((s) => s.events.map((e) => e.index).join(',')));
    expect(histories.size).toBe(1);
    expect(blocking.max).toBeLessThanOrEqual(1);
    // The fleet's list reads grew with the changes, not with the 200 subscribers.
    expect(sim.requestCount('GET /v1/allocations') - listReadsBefore).toBeLessThan(40);
    expect([...onA.connections, ...onB.connections].every((c) => c.counts.connected === 1 && c.counts.closed === 0)).toBe(true);
    console.info(`200 subscribers converged ${Math.round(elapsed)} ms after the first change; ${[...histories][0]?.split(',').length} events each`);
  });

  it('should abort the upstream blocking query and release the lease when the last subscriber on either replica leaves', async () => {
    const [sim, redisServer] = await Promise.all([startSim(), startRedisServer()]);
    sim.cluster.createJob({ id: 'web', count: 3 });
    await sim.cluster.idle();
    // A lease that would outlive the test's deadline by far: only a release can make it go.
    const [a, b] = await startReplicas(['replica-a', 'replica-b'], { nomadAddr: sim.url, redisUrl: redisServer.url, leaseTtlMs: 20_000 });
    if (a === undefined || b === undefined) throw new Error('unreachable');
    const { redis } = await connectRedis(redisServer.url);

    const subscribers = [...subscribeMany(a, { clients: 2, perClient: 3 }).subscribers, ...subscribeMany(b, { clients: 2, perClient: 3 }).subscribers];
    await allInitial(subscribers);
    await soleLeaseHolder(redis);
    await eventually(async () => sim.blockingInFlight() === 1, 'the leader to park its blocking query');
    expect(await redis.pubsub('CHANNELS', 'nomadgw:*')).toHaveLength(1);

    const left = performance.now();
    for (const subscriber of subscribers) subscriber.dispose();
    await eventually(async () => sim.blockingInFlight() === 0, 'the blocking query to be aborted', { timeoutMs: 3_000 });
    const aborted = performance.now() - left;
    await eventually(async () => (await leaseHolders(redis)).size === 0, 'the lease to be released', { timeoutMs: 3_000 });
    await eventually(async () => (await redis.pubsub('CHANNELS', 'nomadgw:*')).length === 0, 'the watch channel to be left', { timeoutMs: 3_000 });
    const released = performance.now() - left;

    // The lease is free at once for whoever asks next: a new subscriber gets changes promptly.
    const again = subscribeChanges(connectWs(b), { label: 'replica-b/again' });
    await allInitial([again]);
    sim.cluster.failTask(runningAlloc(sim), 'server');
    await sim.cluster.idle();
    await converged([again], () => storeView(sim), { timeoutMs: 3_000 });
    expect(again.problems).toEqual([]);
    console.info(`blocking query aborted ${Math.round(aborted)} ms and lease released ${Math.round(released)} ms after the last subscriber left`);
  });

  it('should release a lease it won while its last subscriber was leaving', async () => {
    const [sim, redisServer] = await Promise.all([startSim(), startRedisServer()]);
    sim.cluster.createJob({ id: 'web', count: 2 });
    await sim.cluster.idle();
    // One after the other, so that A's Redis connections are the older ones (lower client ids).
    const options = { nomadAddr: sim.url, redisUrl: redisServer.url, leaseTtlMs: 3_000 };
    const a = await startGatewayProcess({ ...options, name: 'replica-a' });
    const b = await startGatewayProcess({ ...options, name: 'replica-b' });
    const { redis } = await connectRedis(redisServer.url);
    // Another question comes and goes first, so Redis knows the release script: a first release
    // would go EVALSHA, NOSCRIPT, EVAL, and the EVAL would come after B's attempt below.
    const warmUp = subscribeMany(a, { clients: 1, perClient: 1, variables: { namespace: '*' }, selections: [CHANGES_SELECTIONS[1]] }).subscribers;
    await allInitial(warmUp);
    await soleLeaseHolder(redis);
    for (const subscriber of warmUp) subscriber.dispose();
    await eventually(async () => (await leaseHolders(redis)).size === 0, 'the first lease to be released');
    const onA = subscribeMany(a, { clients: 1, perClient: 2 }).subscribers;
    await allInitial(onA);
    expect((await soleLeaseHolder(redis)).holder).toBe(a.replicaId);
    const onB = subscribeMany(b, { clients: 1, perClient: 2 }).subscribers;
    await allInitial(onB);
    const [ofA, ofB] = await leaseConnections(redis);
    if (ofA === undefined || ofB === undefined) throw new Error('expected two lease-store connections');

    // Redis holds every script (lease calls) from now on, so the order of the lease calls is ours to
    // arrange: A gives the lease up first, then B (still interested) asks for it, then B's last
    // subscriber leaves while its request waits. Then Redis runs them: A's release, B's acquire.
    // The pause starts right after one of B's attempts, so its next one (a third of the TTL later)
    // comes after A's release.
    const monitor = await new Redis(redisServer.url).monitor();
    monitor.on('error', () => undefined);
    onTestFinished(() => monitor.disconnect());
    const attemptOfB = new Promise<void>((resolve) => {
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        if (source === ofB.addr && String(args[0]).toLowerCase() === 'evalsha') resolve();
      });
    });
    await within(3_000, 'an attempt of B to take the lease', attemptOfB);
    await redis.call('CLIENT', 'PAUSE', '4000', 'WRITE');
    const unpause = async (): Promise<void> => {
      await redis.call('CLIENT', 'UNPAUSE');
    };
    onTestFinished(() => unpause().catch(() => undefined));
    for (const subscriber of onA) subscriber.dispose();
    const blocked = async (id: number): Promise<boolean> => (await leaseConnections(redis)).find((c) => c.id === id)?.blocked === true;
    await eventually(() => blocked(ofA.id), "A's release to wait in Redis", { timeoutMs: 2_000 });
    expect(await blocked(ofB.id)).toBe(false);
    await eventually(() => blocked(ofB.id), "B's next attempt to take the lease to wait in Redis", { timeoutMs: 2_000 });
    for (const subscriber of onB) subscriber.dispose();
    await eventually(async () => (await redis.pubsub('CHANNELS', 'nomadgw:*')).length === 0, 'both watches to stop');
    await unpause();

    // B won a lease for a watch that no longer exists: it must give it back, not let it linger
    // for a TTL during which nobody could lead the key.
    await eventually(async () => (await leaseHolders(redis)).size === 0, 'the lease to be released', { timeoutMs: 1_500 });
    const again = subscribeChanges(connectWs(a), { label: 'replica-a/again' });
    await allInitial([again]);
    sim.cluster.failTask(runningAlloc(sim), 'server');
    await sim.cluster.idle();
    await converged([again], () => storeView(sim), { timeoutMs: 1_500 });
    expect(problemsOf([...onA, ...onB, again])).toEqual([]);
  });
});
