import { describe, expect, it, onTestFinished } from 'vitest';
import { startSimulator } from '../../../src/simulator/server.ts';
import {
  CHANGES_SELECTIONS,
  allInitial,
  converged,
  leaseHolders,
  problemsOf,
  restartThrough,
  runningAlloc,
  startReplicas,
  stopThrough,
  storeView,
  subscribeMany,
} from '../../helpers/live-replicas.ts';
import { connectRedis } from '../../helpers/redis-connection.ts';
import { startRedisServer } from '../../helpers/redis-server.ts';

/** Tokens across replica processes: one watch key per token, and no token ever reaches Redis. */

describe('allocationChanges with ACL tokens across two gateway processes', () => {
  it('should give each token only its namespaces on either replica, and never put a token in a Redis key, channel or message', async () => {
    const [sim, redisServer] = await Promise.all([startSimulator({ scenario: 'empty', acl: true, timing: { schedulerMs: 5, clientMs: 5 } }), startRedisServer()]);
    onTestFinished(() => sim.stop());
    sim.cluster.createJob({ id: 'web', count: 3 });
    sim.cluster.createJob({ id: 'api', namespace: 'prod', count: 2 });
    await sim.cluster.idle();
    const defaultReader = sim.acl.createToken({ namespaces: { default: { policy: 'read' } } }).SecretID;
    const prodReader = sim.acl.createToken({ namespaces: { prod: { policy: 'read' } } }).SecretID;
    const management = { 'X-Nomad-Token': sim.acl.managementToken.SecretID };
    const tokens = [defaultReader, prodReader, sim.acl.managementToken.SecretID];

    // Everything that crosses Redis from here on, as another Redis client would see it.
    const tap = await connectRedis(redisServer.url);
    const seen: string[] = [];
    tap.redis.on('pmessage', (_pattern: string, channel: string, message: string) => seen.push(channel, message));
    await tap.redis.psubscribe('nomadgw:*');
    const [a, b] = await startReplicas(['replica-a', 'replica-b'], { nomadAddr: sim.url, redisUrl: redisServer.url });
    if (a === undefined || b === undefined) throw new Error('unreachable');
    const { redis } = await connectRedis(redisServer.url);

    // Every namespace the token can read ("*"): what each sees is up to its token alone.
    const options = { variables: { namespace: '*' }, selections: [CHANGES_SELECTIONS[1]] };
    const defaultSide = [
      ...subscribeMany(a, { clients: 2, perClient: 3, token: defaultReader, ...options }).subscribers,
      ...subscribeMany(b, { clients: 1, perClient: 2, token: defaultReader, ...options }).subscribers,
    ];
    const prodSide = [
      ...subscribeMany(b, { clients: 2, perClient: 3, token: prodReader, ...options }).subscribers,
      ...subscribeMany(a, { clients: 1, perClient: 2, token: prodReader, ...options }).subscribers,
    ];
    await allInitial([...defaultSide, ...prodSide]);
    const inDefault = () => storeView(sim, (ns) => ns === 'default');
    const inProd = () => storeView(sim, (ns) => ns === 'prod');
    await converged(defaultSide, inDefault);
    await converged(prodSide, inProd);

    sim.cluster.failTask(runningAlloc(sim, new Set(), 'default'), 'server');
    sim.cluster.failTask(runningAlloc(sim, new Set(), 'prod'), 'server');
    await sim.cluster.idle();
    await stopThrough(a, runningAlloc(sim, new Set(), 'prod'), management);
    await restartThrough(b, runningAlloc(sim, new Set(), 'default'), management);
    await sim.cluster.idle();
    await converged(defaultSide, inDefault, { what: 'the default reader to see the default namespace' });
    await converged(prodSide, inProd, { what: 'the prod reader to see the prod namespace' });
    expect(problemsOf([...defaultSide, ...prodSide])).toEqual([]);

    // One watch key (one lease, one channel) per token, held by the replicas.
    const holders = await leaseHolders(redis);
    expect(holders.size).toBe(2);
    for (const holder of holders.values()) expect([a.replicaId, b.replicaId]).toContain(holder);
    const channels = await redis.pubsub('CHANNELS', 'nomadgw:*');
    expect(channels.filter((c) => String(c) !== '')).toHaveLength(2);
    const keys = await redis.keys('nomadgw:*');
    expect(seen.length).toBeGreaterThan(0);
    const everything = [...keys, ...channels.map(String), ...seen].join('\n');
    for (const token of tokens) expect(everything).not.toContain(token);
  });
});
