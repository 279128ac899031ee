import { context, SpanKind, SpanStatusCode, type Attributes, type Tracer } from '@opentelemetry/api';
import type { NomadExchange } from '../nomad/http.ts';

/**
 * The attributes and outcome of an upstream call's client span, by the HTTP semantic
 * conventions. Only the route template is recorded: paths and query strings hold ids, filters
 * and namespaces, and the token is never anywhere near a span.
 */
export function upstreamSpanAttributes(exchange: NomadExchange): { name: string; attributes: Attributes; failed: string | undefined } {
  const attributes: Attributes = {
    'http.request.method': exchange.method,
    'url.template': exchange.route,
    'nomad.blocking_query': exchange.blocking,
  };
  let failed: string | undefined;
  if (typeof exchange.status === 'number') {
    attributes['http.response.status_code'] = exchange.status;
    if (exchange.status >= 400) failed = String(exchange.status);
  } else if (exchange.status === 'aborted') {
    // The caller went away, or the last subscriber of a watch left: not a failure of the call.
    attributes['nomad.aborted'] = true;
  } else {
    failed = exchange.status;
  }
  if (failed !== undefined) attributes['error.type'] = failed;
  return { name: `${exchange.method} ${exchange.route}`, attributes, failed };
}

/**
 * An `onExchange` listener that records each exchange with Nomad as a client span, child of
 * whatever span is active where the call was made (the GraphQL operation's, or none for a
 * watcher's blocking query). The span is made when the exchange ends, with its real start time.
 */
export function upstreamSpans(tracer: Tracer): (exchange: NomadExchange) => void {
  return (exchange) => {
    const end = performance.now();
    const { name, attributes, failed } = upstreamSpanAttributes(exchange);
    const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, startTime: end - exchange.durationMs, attributes }, context.active());
    if (failed !== undefined) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end(end);
  };
}
