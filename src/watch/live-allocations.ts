import type { GraphQLError } from 'graphql';
import type { Loaders } from '../loaders.ts';
import type { Caller } from '../nomad/caller-client.ts';
import type { NomadHttpError } from '../nomad/errors.ts';
import type { AllocListStub, Allocation } from '../nomad/types.ts';

/** Which allocations a list watch follows: `GET /v1/allocations` parameters. */
export interface AllocationListSpec {
  namespace: string | undefined;
  prefix: string | undefined;
  filter: string | undefined;
  /**
   * Whether the stubs must carry their task states: Nomad's list is about four times larger with
   * them, so a watch asks for them only when a subscriber selects them. Subscribers that differ
   * here are served by different watches.
   */
  taskStates: boolean;
}

/** One event of an allocation list subscription, as one subscriber sees it. */
export interface AllocationChangesEvent {
  /** The first event: `added` holds the whole matching set. */
  initial: boolean;
  /** The Nomad index the subscriber's view is current at; strictly increasing over change events. */
  index: bigint;
  /** Allocations that started matching (or appeared) since the previous event. */
  added: AllocListStub[];
  /** Allocations that still match and whose ModifyIndex grew. */
  updated: AllocListStub[];
  /** Nomad ids of allocations that no longer match, or no longer exist. */
  removed: string[];
  /** Whether the stubs of `added` and `updated` carry their task states (the spec's `taskStates`). */
  taskStates: boolean;
  /** False on the one event that says Nomad cannot be reached; the next event brings the view up to date. */
  nomadReachable: boolean;
  /**
   * Reads for what these allocations link to (jobs, nodes, services...), made with the watch
   * key's token and shared by every subscriber that receives this event on this replica.
   */
  loaders: Loaders;
  /**
   * Set on a last event that is an error, after which the stream ends: Nomad refused the watch's
   * token (a NomadHttpError), or the subscriber fell too far behind (SUBSCRIBER_TOO_SLOW).
   */
  error?: NomadHttpError | GraphQLError;
}

/** One event of a single-allocation subscription: the allocation now, or null once Nomad no longer has it. */
export interface AllocationEvent {
  index: bigint;
  allocation: Allocation | null;
  /** As on {@link AllocationChangesEvent}. */
  loaders: Loaders;
  /** As on {@link AllocationChangesEvent}. */
  error?: NomadHttpError | GraphQLError;
}

/**
 * Live views of Nomad's allocations for GraphQL subscriptions. Each call resolves once the first
 * event is ready (so an upstream refusal, such as a 403, rejects it instead of becoming an event),
 * with a stream that ends when the caller stops iterating or its signal aborts.
 */
export interface LiveAllocations {
  allocationChanges(spec: AllocationListSpec, caller: Caller): Promise<AsyncIterable<AllocationChangesEvent>>;
  allocation(id: string, caller: Caller): Promise<AsyncIterable<AllocationEvent>>;
}
