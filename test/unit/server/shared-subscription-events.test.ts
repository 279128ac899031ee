import { parse, type ExecutionResult } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { useSharedSubscriptionEvents } from '../../../src/server/shared-subscription-events.ts';
import { createSubscriberQueue, type SubscriberQueue } from '../../../src/watch/subscriber-queue.ts';

/** What a subscriber's context holds here: who it is, and its lifetime. */
interface TestContext extends Record<string, unknown> {
  token: string;
  signal: AbortSignal;
}

interface Tick {
  n: number;
}

/**
 * The plugin in a yoga of its own over a tiny schema, subscribed to in-process through yoga's
 * envelop (as graphql-ws does): `ticks` hands every subscriber the same event objects, pushed by
 * `publish`, as the watch hub does; `calls` counts the resolver runs of each event's fields.
 */
function gateway(options: { shared: boolean }) {
  const queues = new Set<SubscriberQueue<Tick>>();
  const calls = { doubled: 0, owner: 0, slow: 0 };
  const schema = createSchema<TestContext>({
    typeDefs: /* GraphQL */ `
      type Query { ok: Boolean }
      type Tick { n: Int!, doubled(times: Int! = 2): Int!, owner: String!, slow: Int! }
      type Subscription { ticks(fail: Boolean): Tick! }
    `,
    resolvers: {
      Subscription: {
        ticks: {
          subscribe: (_: unknown, { fail }: { fail?: boolean | null }) => {
            if (fail === true) throw new Error('refused by the source');
            const queue = createSubscriberQueue<Tick>({ maxBuffered: 100, onClose: () => queues.delete(queue) });
            queues.add(queue);
            return queue.events;
          },
          resolve: (tick: Tick) => tick,
        },
      },
      Tick: {
        doubled: (tick: Tick, { times }: { times: number }) => {
          calls.doubled += 1;
          return tick.n * times;
        },
        owner: (_tick: Tick, _args: unknown, context: TestContext) => {
          calls.owner += 1;
          return context.token;
        },
        // Fails when the subscriber that runs it has gone, as an upstream call aborted with it would.
        slow: async (tick: Tick, _args: unknown, context: TestContext) => {
          calls.slow += 1;
          await new Promise((resolve) => setTimeout(resolve, 20));
          if (context.signal.aborted) throw new Error('aborted with its subscriber');
          return tick.n;
        },
      },
    },
  });
  const plugins = options.shared ? [useSharedSubscriptionEvents<TestContext>({ callerOf: (context) => ({ key: context.token, signal: context.signal }) })] : [];
  const yoga = createYoga<Record<string, unknown>, TestContext>({ schema, maskedErrors: false, plugins });

  /** Subscribes as `token`; resolves with the stream of results, or the one result of a refusal. */
  const subscribe = async (query: string, token = 'token-a', variables: Record<string, unknown> = {}) => {
    const controller = new AbortController();
    const { subscribe: run, schema: enveloped, contextFactory } = yoga.getEnveloped({ token, signal: controller.signal });
    const contextValue = await contextFactory();
    const result = (await run({ schema: enveloped, document: parse(query), contextValue, variableValues: variables })) as AsyncIterableIterator<ExecutionResult> | ExecutionResult;
    return { result, controller };
  };
  const publish = (tick: Tick): void => {
    for (const queue of queues) queue.push(tick);
  };
  return { subscribe, publish, calls, queues };
}

function streamOf(result: AsyncIterableIterator<ExecutionResult> | ExecutionResult): AsyncIterableIterator<ExecutionResult> {
  if (!(Symbol.asyncIterator in result)) throw new Error(`not a stream: ${JSON.stringify(result)}`);
  return result;
}

async function nextOf(stream: AsyncIterableIterator<ExecutionResult>): Promise<ExecutionResult> {
  const step = await stream.next();
  if (step.done === true) throw new Error('the stream ended');
  return step.value;
}

const TICKS = 'subscription Ticks($times: Int!) { ticks { n doubled(times: $times) owner } }';

describe('useSharedSubscriptionEvents', () => {
  it('executes an event once for every subscriber with the same document, variables and caller', async () => {
    const { subscribe, publish, calls } = gateway({ shared: true });
    const streams = await Promise.all(Array.from({ length: 20 }, async () => streamOf((await subscribe(TICKS, 'token-a', { times: 3 })).result)));
    publish({ n: 7 });
    const results = await Promise.all(streams.map(nextOf));
    expect(results.map((result) => result.data)).toEqual(Array.from({ length: 20 }, () => ({ ticks: { n: 7, doubled: 21, owner: 'token-a' } })));
    expect(calls).toMatchObject({ doubled: 1, owner: 1 });
    publish({ n: 8 });
    const second = await Promise.all(streams.map(nextOf));
    expect(second.map((result) => result.data)).toEqual(Array.from({ length: 20 }, () => ({ ticks: { n: 8, doubled: 24, owner: 'token-a' } })));
    expect(calls).toMatchObject({ doubled: 2, owner: 2 });
  });

  it('executes once per subscriber without the plugin (the reference this is measured against)', async () => {
    const { subscribe, publish, calls } = gateway({ shared: false });
    const streams = await Promise.all(Array.from({ length: 5 }, async () => streamOf((await subscribe(TICKS, 'token-a', { times: 3 })).result)));
    publish({ n: 7 });
    const results = await Promise.all(streams.map(nextOf));
    expect(results.map((result) => result.data)).toEqual(Array.from({ length: 5 }, () => ({ ticks: { n: 7, doubled: 21, owner: 'token-a' } })));
    expect(calls).toMatchObject({ doubled: 5, owner: 5 });
  });

  it('never shares an answer between callers, nor between different variables', async () => {
    const { subscribe, publish, calls } = gateway({ shared: true });
    const a = streamOf((await subscribe(TICKS, 'token-a', { times: 2 })).result);
    const b = streamOf((await subscribe(TICKS, 'token-b', { times: 2 })).result);
    const a3 = streamOf((await subscribe(TICKS, 'token-a', { times: 3 })).result);
    publish({ n: 5 });
    expect((await nextOf(a)).data).toEqual({ ticks: { n: 5, doubled: 10, owner: 'token-a' } });
    expect((await nextOf(b)).data).toEqual({ ticks: { n: 5, doubled: 10, owner: 'token-b' } });
    expect((await nextOf(a3)).data).toEqual({ ticks: { n: 5, doubled: 15, owner: 'token-a' } });
    expect(calls.owner).toBe(3);
  });

  it('does not reuse an answer with errors made by a subscriber who left meanwhile: the next one executes the event itself', async () => {
    const { subscribe, publish, calls } = gateway({ shared: true });
    const query = 'subscription { ticks { n slow } }';
    const first = await subscribe(query);
    const second = await subscribe(query);
    const [one, two] = [streamOf(first.result), streamOf(second.result)];
    publish({ n: 4 });
    const pendingOne = nextOf(one);
    const pendingTwo = nextOf(two);
    first.controller.abort(); // the first subscriber, whose context executes the event, goes
    expect((await pendingOne).errors?.[0]?.message).toBe('aborted with its subscriber');
    expect(await pendingTwo).toEqual({ data: { ticks: { n: 4, slow: 4 } } });
    expect(calls.slow).toBe(2);
  });

  it('answers refused variables and a failing source as the reference engine does', async () => {
    for (const [query, variables] of [
      [TICKS, { times: 'three' }],
      [TICKS, {}],
      ['subscription { ticks(fail: true) { n } }', {}],
    ] as const) {
      const shared = await gateway({ shared: true }).subscribe(query, 'token-a', variables);
      const reference = await gateway({ shared: false }).subscribe(query, 'token-a', variables);
      expect(Symbol.asyncIterator in shared.result).toBe(false);
      expect(JSON.parse(JSON.stringify(shared.result))).toEqual(JSON.parse(JSON.stringify(reference.result)));
    }
  });

  it('ends the source at once when the subscriber completes, even while it waits for an event', async () => {
    const { subscribe, queues } = gateway({ shared: true });
    const stream = streamOf((await subscribe(TICKS, 'token-a', { times: 2 })).result);
    const pending = stream.next();
    expect(queues.size).toBe(1);
    await stream.return?.();
    expect(queues.size).toBe(0);
    expect(await pending).toEqual({ value: undefined, done: true });
  });
});
