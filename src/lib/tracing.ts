import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  defaultTextMapGetter,
  defaultTextMapSetter,
  isSpanContextValid,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';

/**
 * OpenTelemetry traces, one trace per charging session request: the API's span, then the
 * worker's authorization call and each callback attempt, linked through a W3C `traceparent`
 * carried inside the queued messages (and sent to the authorization service). Exported over
 * OTLP/HTTP when an endpoint is configured; otherwise every span is a no-op and costs nothing.
 * Spans never carry the driver token.
 */
export interface Tracing {
  tracer: Tracer;
  shutdown(): Promise<void>;
}

const propagator = new W3CTraceContextPropagator();

export function createTracing(options: {
  endpoint: string | undefined;
  serviceName: string;
}): Tracing {
  if (options.endpoint === undefined) {
    // The API package's own no-op tracer: no provider is registered, nothing is recorded.
    return { tracer: trace.getTracer('chargegate'), shutdown: () => Promise.resolve() };
  }
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: options.endpoint }))],
  });
  return { tracer: provider.getTracer('chargegate'), shutdown: () => provider.shutdown() };
}

/** The context a `traceparent` (header or queued message field) continues; root when absent. */
export function contextFrom(traceparent: string | string[] | undefined): Context {
  const value = Array.isArray(traceparent) ? traceparent[0] : traceparent;
  if (value === undefined) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, { traceparent: value }, defaultTextMapGetter);
}

/** The `traceparent` to carry on for `span`; undefined when tracing is off. */
export function traceparentOf(span: Span): string | undefined {
  // Tracing off (no-op spans): nothing to carry, and nothing to allocate on the accept path.
  if (!isSpanContextValid(span.spanContext())) return undefined;
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
  return carrier['traceparent'];
}

/** Runs `work` inside a span that ends with it, recording an error status if it throws. */
export async function inSpan<T>(
  tracer: Tracer,
  name: string,
  options: { parent: Context; kind?: SpanKind; attributes?: Attributes },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const span = tracer.startSpan(
    name,
    {
      kind: options.kind ?? SpanKind.INTERNAL,
      ...(options.attributes ? { attributes: options.attributes } : {}),
    },
    options.parent,
  );
  try {
    return await work(span);
  } catch (error) {
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
    throw error;
  } finally {
    span.end();
  }
}

export { SpanKind, SpanStatusCode };
