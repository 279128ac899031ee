/**
 * OpenTelemetry traces: the tracer provider, exporting over OTLP/HTTP. The spans are made by
 * `server/operation-traces.ts` (a server span per GraphQL operation) and `upstream-spans.ts`
 * (a client span per call to Nomad).
 * Nothing here runs unless the composition root starts tracing (the OTLP variables are set).
 */
import { context, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace';

/** The instrumentation scope of every span the gateway makes. */
export const TRACER_NAME = 'nomad-graphql-gateway';

export interface TracingOptions {
  /** `service.name` of the resource (`OTEL_SERVICE_NAME`). */
  serviceName: string;
  /** `service.version` of the resource. */
  serviceVersion?: string;
  /** Where finished spans go: {@link otlpSpanProcessor} in production, an in-memory exporter in tests. */
  processor: SpanProcessor;
}

export interface Tracing {
  /** What the servers and the Nomad client make their spans with. */
  tracer: Tracer;
  /** Exports the spans still buffered, then stops. */
  shutdown(): Promise<void>;
}

let contextManagerInstalled = false;

/**
 * OpenTelemetry's active context is process-wide: a span made inside a GraphQL operation's
 * execution (an upstream call) finds its parent through AsyncLocalStorage. Installed once, with
 * the first tracing started, and never otherwise, so a gateway without tracing pays nothing.
 */
function installContextManager(): void {
  if (contextManagerInstalled) return;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  contextManagerInstalled = true;
}

/** Starts a tracer provider of its own (not registered globally) sending spans to `processor`. */
export function startTracing(options: TracingOptions): Tracing {
  installContextManager();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': options.serviceName,
      ...(options.serviceVersion === undefined ? {} : { 'service.version': options.serviceVersion }),
    }),
    spanProcessors: [options.processor],
  });
  return {
    tracer: provider.getTracer(TRACER_NAME, options.serviceVersion),
    shutdown: () => provider.shutdown(),
  };
}

/**
 * Batches finished spans to an OTLP/HTTP collector (JSON) at `url`, the full traces URL
 * (`…/v1/traces`). The exporter itself reads `OTEL_EXPORTER_OTLP_HEADERS`, `…_TIMEOUT` and
 * `…_COMPRESSION` (and their `TRACES_` forms), as the OTLP exporter specification says.
 */
export function otlpSpanProcessor(url: string): SpanProcessor {
  return new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }) });
}
