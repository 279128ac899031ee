import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context as TraceContext, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Plugin } from 'graphql-yoga';
import { useOperationOutcomes, type HeaderReader, type OperationOutcome, type OperationStart } from './operation-outcome.ts';

/**
 * W3C `traceparent`/`tracestate` only: what routers and browsers' OpenTelemetry send. The
 * gateway's own propagator, so OpenTelemetry's global one is left alone.
 */
const propagator = new W3CTraceContextPropagator();

const headerGetter: TextMapGetter<HeaderReader> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  // Only read by propagators that look for prefixed keys (baggage), which this one is not.
  keys: () => [],
};

/**
 * The attributes of an operation's server span once it has ended, by the GraphQL semantic
 * conventions: never the document, its variables or a token.
 */
export function operationSpanAttributes(outcome: OperationOutcome): Record<string, string | string[]> {
  const attributes: Record<string, string | string[]> = {
    'graphql.operation.type': outcome.operationType,
    'gateway.transport': outcome.transport,
  };
  if (outcome.operationName !== undefined) attributes['graphql.operation.name'] = outcome.operationName;
  if (outcome.requestId !== undefined) attributes['gateway.request_id'] = outcome.requestId;
  if (outcome.errorCodes.length > 0) {
    attributes['gateway.error_codes'] = outcome.errorCodes;
    attributes['error.type'] = outcome.errorCodes[0] ?? 'UNCODED';
  }
  return attributes;
}

/** `query AllocationsPage`, or `GraphQL operation` when no document was read. */
export function operationSpanName(outcome: OperationOutcome): string {
  if (outcome.operationType === 'unknown') return 'GraphQL operation';
  return outcome.operationName === undefined ? outcome.operationType : `${outcome.operationType} ${outcome.operationName}`;
}

/**
 * A server span per GraphQL operation, over HTTP (a query, mutation, or an SSE subscription for
 * its lifetime) and graphql-ws, from its start to its outcome (`operation-outcome.ts`; no span for
 * a request that carries no operation, such as a readiness probe or the GraphiQL page), marked
 * failed when any error reached the client. It is the active span while the operation runs, so
 * upstream calls made for it are its children; over HTTP its parent is the caller's W3C trace
 * context (`traceparent`), so a router's trace carries on through the gateway.
 */
export function useOperationTraces(tracer: Tracer): Plugin {
  /** The context each running operation executes in, keyed as `OperationStart.key`. */
  const running = new WeakMap<object, TraceContext>();

  const onStart = (start: OperationStart) => {
    const parent = start.headers === undefined ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, start.headers, headerGetter);
    // Started late (refused before its parameters were read): back-dated to the request's start.
    const startTime = start.startedMsAgo === undefined ? undefined : Date.now() - start.startedMsAgo;
    const span = tracer.startSpan('GraphQL operation', { kind: SpanKind.SERVER, startTime }, parent);
    running.set(start.key, trace.setSpan(parent, span));
    return (outcome: OperationOutcome) => {
      running.delete(start.key);
      span.updateName(operationSpanName(outcome));
      span.setAttributes(operationSpanAttributes(outcome));
      if (outcome.errorCodes.length > 0) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
  };

  /** Runs one phase of an operation with its span active (nothing to do when it has none). */
  const within = <T>(key: object | undefined, wrapped: () => T): T => {
    const active = key === undefined ? undefined : running.get(key);
    return active === undefined ? wrapped() : context.with(active, wrapped);
  };

  return {
    onPluginInit: ({ addPlugin }) => addPlugin(useOperationOutcomes({ onStart })),
    instrumentation: {
      // HTTP: from the parsed parameters to the result (context, parse, validate, execute).
      operation: ({ request }, wrapped) => within(request, wrapped),
      // graphql-ws and the fast path, which run operations through envelop without yoga's request pipeline.
      execute: ({ context: operation }, wrapped) => within(operation, wrapped),
      subscribe: ({ context: operation }, wrapped) => within(operation, wrapped),
    },
  };
}
