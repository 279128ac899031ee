import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisConfig } from './config.ts';
import { createExecBroker, type ExecBroker } from './exec/broker.ts';
import type { ExecTransport } from './exec/transport.ts';
import type { NomadClient } from './nomad/client.ts';
import type { Backbone } from './pubsub/backbone.ts';
import { createInProcessBackbone } from './pubsub/in-process-backbone.ts';
import { createInProcessLeaseStore, createRedisLeaseStore, type LeaseStore } from './pubsub/lease.ts';
import { createRedisBackbone, redisConnectionOptions } from './pubsub/redis-backbone.ts';
import type { ReadinessCheck } from './server/readiness.ts';
import { createWatchHub, type WatchHub, type WatchTiming } from './watch/watch-hub.ts';

/** The live layer as the composition root builds it: the watch hub and what it runs on. */
export interface LiveParts {
  hub: WatchHub;
  /** Exec sessions held here, and the routing of their input from other replicas. */
  exec: ExecBroker;
  /** This process's name as a lease owner (logged at start, to tell replicas apart). */
  replicaId: string;
  /** Redis, when there is one, for `/readyz`. */
  readiness: ReadinessCheck[];
  /** The backbone between replicas, for metrics: Redis (connected or not), or this process alone (always connected). */
  backbone: { readonly kind: 'redis' | 'in-process'; readonly connected: boolean };
  /**
   * Shutdown, first: no new subscription or exec session (SHUTTING_DOWN), and the hub's leases
   * released at once so other replicas lead its watches; open subscriptions and sessions go on.
   */
  drain(): Promise<void>;
  /** Ends exec sessions, stops the hub (releasing its leases), then closes the backbone and its connections. */
  close(): Promise<void>;
}

/** Connects, and waits until the connection is ready (nothing is queued before that). */
async function connect(url: string, name: string, timeoutMs: number): Promise<Redis> {
  const redis = new Redis(url, { ...redisConnectionOptions(), connectionName: name });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Redis at REDIS_URL did not become ready within ${timeoutMs} ms`)), timeoutMs);
      redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  return redis;
}

/**
 * With `redis`, replicas share one upstream watcher per watch key through Redis (a publisher and
 * a subscriber connection, leases on the publisher); without it, everything stays in this
 * process. Rejects when Redis is configured but cannot be reached at start.
 */
export async function createLiveParts(options: {
  nomad: NomadClient;
  /** Nomad's exec WebSocket (with the same address and TLS as `nomad`). */
  execTransport: ExecTransport;
  redis: RedisConfig | undefined;
  logger: Logger;
  timing?: Partial<WatchTiming>;
  /** Subscriptions this replica serves at once. */
  maxSubscriptions?: number;
  connectTimeoutMs?: number;
}): Promise<LiveParts> {
  const { nomad, redis, logger } = options;
  const replicaId = randomUUID();
  let backbone: Backbone;
  let leases: LeaseStore;
  const readiness: ReadinessCheck[] = [];
  if (redis === undefined) {
    backbone = createInProcessBackbone();
    leases = createInProcessLeaseStore();
  } else {
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    const publisher = await connect(redis.url, 'nomad-gateway-pub', timeoutMs);
    const subscriber = await connect(redis.url, 'nomad-gateway-sub', timeoutMs).catch((error: unknown) => {
      publisher.disconnect();
      throw error;
    });
    for (const connection of [publisher, subscriber]) {
      // ioredis reconnects by itself; say so without the URL, which may hold a password.
      connection.on('error', (error: Error) => logger.warn(`redis: ${error.message}`));
    }
    backbone = createRedisBackbone({ publisher, subscriber, prefix: redis.prefix, onListenerError: (error) => logger.error(`backbone listener: ${String(error)}`) });
    leases = createRedisLeaseStore({ redis: publisher, prefix: redis.prefix });
    readiness.push({ name: 'redis', check: async () => backbone.connected });
  }
  const hub = createWatchHub({ nomad, backbone, leases, replicaId, logger, timing: options.timing, maxSubscriptions: options.maxSubscriptions });
  const exec = createExecBroker({ transport: options.execTransport, nomad, backbone, replicaId, logger });
  return {
    hub,
    exec,
    replicaId,
    readiness,
    backbone: {
      kind: redis === undefined ? 'in-process' : 'redis',
      get connected() {
        return backbone.connected;
      },
    },
    drain: async () => {
      exec.drain();
      await hub.drain();
    },
    close: async () => {
      await exec.stop();
      await hub.stop();
      await backbone.close();
    },
  };
}
