/**
 * Subscription events executed once per replica, not once per subscriber. The watch hub hands the
 * same event object to every subscriber of a watch key on this replica; subscribers that also sent
 * the same document text, operation name and variables, with the same token, would each compute the
 * same answer from it. This envelop plugin computes it once and hands every one of them the same
 * result object: with a thousand dashboards open on one question, a change costs one execution
 * instead of a thousand. (Each subscriber's transport still writes its own message.)
 *
 * What stays as without it:
 * - the source stream is made as graphql-js's `createSourceEventStream` makes it, per subscriber
 *   (the subscription field's `subscribe` runs with that subscriber's arguments and context);
 *   variables the reference engine would refuse never get here: it answers them, in its words;
 * - each event is executed as the GraphQL spec's "ExecuteSubscriptionEvent" says (graphql-js's
 *   `execute` with the event as root value), with the context of the first subscriber to ask;
 *   answers are shared only between subscribers of the same caller key (a token digest), so no
 *   answer reaches a caller whose token did not produce it;
 * - an answer with errors made by a subscriber who has gone since (its aborted signal may be the
 *   cause) is not reused: the next subscriber executes the event itself;
 * - yoga's result hooks (error masking, metrics, traces) still run per subscriber, on the shared
 *   result, which none of them modify.
 *
 * Answers live as long as their event object (a WeakMap): once every subscriber has consumed an
 * event and the hub dropped it, they go with it.
 */
import {
  createSourceEventStream,
  execute,
  getOperationAST,
  GraphQLError,
  print,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { refusesVariables } from './refused-variables.ts';

/** Who is asking, as far as answers may differ between callers; see {@link SharedSubscriptionEventsOptions}. */
export interface SubscriptionCaller {
  /** Answers are shared only between subscribers with equal keys (e.g. a digest of the token). */
  key: string;
  /** Ends with the subscriber: an answer with errors made under an aborted signal is not reused. */
  signal: AbortSignal | undefined;
}

export interface SharedSubscriptionEventsOptions<TContext> {
  /** The caller of a subscription, from its context; undefined: this subscription shares nothing. */
  callerOf(context: TContext): SubscriptionCaller | undefined;
}

/** One event's answer for one group of subscribers. */
interface SharedAnswer {
  result: Promise<ExecutionResult>;
  /** The signal of the subscriber whose context executed it. */
  signal: AbortSignal | undefined;
}

type SubscribeResult = AsyncIterable<ExecutionResult> | ExecutionResult;

/**
 * The per-event results of a source stream, in order; `return()` ends the source at once (a
 * pending `next()` included). A class: one is held per subscription, its methods on the prototype.
 */
class AnsweredEvents implements AsyncIterableIterator<ExecutionResult> {
  readonly #events: AsyncIterator<unknown>;
  readonly #answer: (event: unknown) => Promise<ExecutionResult>;
  readonly #operation: OperationDefinitionNode;

  constructor(source: AsyncIterable<unknown>, answer: (event: unknown) => Promise<ExecutionResult>, operation: OperationDefinitionNode) {
    this.#events = source[Symbol.asyncIterator]();
    this.#answer = answer;
    this.#operation = operation;
  }

  async next(): Promise<IteratorResult<ExecutionResult>> {
    let step: IteratorResult<unknown>;
    try {
      step = await this.#events.next();
    } catch (error) {
      // As the reference engine reports a source that fails: an error located at the operation.
      const cause = error instanceof Error ? error : new Error(String(error));
      throw new GraphQLError(cause.message, { originalError: cause, nodes: [this.#operation] });
    }
    if (step.done === true) return { value: undefined, done: true };
    return { value: await this.#answer(step.value), done: false };
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    await this.#events.return?.();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ExecutionResult> {
    return this;
  }
}

/**
 * The envelop plugin: every subscription's events are executed once per group of subscribers
 * that would get the same answer (see the module's comment).
 */
export function useSharedSubscriptionEvents<TContext extends Record<string, any>>(options: SharedSubscriptionEventsOptions<TContext>): Plugin<TContext> {
  /** Small numbers standing for schemas in group keys (`/graphql` and `/subgraph` differ). */
  const schemaIds = new WeakMap<GraphQLSchema, number>();
  let nextSchemaId = 0;
  const schemaIdOf = (schema: GraphQLSchema): number => {
    let id = schemaIds.get(schema);
    if (id === undefined) {
      id = nextSchemaId++;
      schemaIds.set(schema, id);
    }
    return id;
  };
  /** Per event object: its answers, by group key. */
  const answers = new WeakMap<object, Map<string, SharedAnswer>>();

  /** One event executed as the spec's "ExecuteSubscriptionEvent": graphql-js's `execute`, the event as root value. */
  const executeEvent = async (args: ExecutionArgs, event: unknown): Promise<ExecutionResult> => execute({ ...args, rootValue: event });

  const answerOnce = (event: unknown, group: string, caller: SubscriptionCaller, args: ExecutionArgs): Promise<ExecutionResult> => {
    if (typeof event !== 'object' || event === null) return executeEvent(args, event);
    let byGroup = answers.get(event);
    if (byGroup === undefined) {
      byGroup = new Map();
      answers.set(event, byGroup);
    }
    const shared = byGroup.get(group);
    if (shared !== undefined) {
      return shared.result.then((result) => (result.errors !== undefined && shared.signal?.aborted === true ? executeEvent(args, event) : result));
    }
    const result = executeEvent(args, event);
    byGroup.set(group, { result, signal: caller.signal });
    return result;
  };

  const subscribeShared = async (args: ExecutionArgs, reference: (args: ExecutionArgs) => unknown, caller: SubscriptionCaller): Promise<SubscribeResult> => {
    const operation = getOperationAST(args.document, args.operationName);
    if (operation?.operation !== 'subscription') return reference(args) as Promise<SubscribeResult>;
    // Variables the reference engine would refuse: it answers, in its words.
    if (refusesVariables(args, operation)) return reference(args) as Promise<SubscribeResult>;
    const source = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in source)) return source;
    // A document's text, not its object: equal texts share, whether or not a parse cache handed out one object.
    const text = args.document.loc?.source.body ?? print(args.document);
    const group = [schemaIdOf(args.schema), caller.key, args.operationName ?? '', JSON.stringify(args.variableValues ?? {}), text].join('\n');
    return new AnsweredEvents(source, (event) => answerOnce(event, group, caller, args), operation);
  };

  return {
    onSubscribe: ({ args, subscribeFn, setSubscribeFn }) => {
      const caller = options.callerOf(args.contextValue);
      if (caller === undefined) return;
      setSubscribeFn((subscribeArgs) => subscribeShared(subscribeArgs, subscribeFn, caller) as ReturnType<typeof subscribeFn>);
    },
  };
}
