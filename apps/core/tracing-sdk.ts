import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { type Context, context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { IORedisInstrumentation } from "@opentelemetry/instrumentation-ioredis";
import { MySQL2Instrumentation } from "@opentelemetry/instrumentation-mysql2";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import type { Logger } from "./logger.js";
import type { Tracing } from "./tracing.js";

/**
 * The OpenTelemetry SDK, loaded only when tracing is on (see tracing.ts): a Node tracer provider
 * (AsyncLocalStorage context, W3C trace-context propagation, the sampler from the standard
 * OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG), a batching OTLP/HTTP (JSON) exporter, and the
 * maintained ioredis and mysql2 instrumentations.
 *
 * Those instrumentations hook `require`; this process loaded ioredis and mysql2 through ESM
 * imports before the config said tracing was on, so they are required once more after
 * registration: the hook then patches the (shared) client prototypes, and the clients already
 * made are traced too. The HTTP hops and the Kafka hops are traced by the platform's own spans
 * with explicit propagation (http.ts, gateway/forward.ts, api/handoff.ts, order-writer/writer.ts,
 * lifecycle/payments.ts): they stay correct in-process, where no socket is involved.
 */
export function createTracing(opts: { endpoint: string; serviceName: string; ratio: number; logger: Logger }): Tracing {
  const exporter = new OTLPTraceExporter({ url: `${opts.endpoint.replace(/\/+$/, "")}/v1/traces` });
  const provider = new NodeTracerProvider({
    sampler: platformSampler(opts.ratio),
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: opts.serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1000 })],
  });
  provider.register();
  registerInstrumentations({
    tracerProvider: provider,
    // Only inside a platform span (the default for ioredis): background polling stays out of traces.
    instrumentations: [new IORedisInstrumentation({ requireParentSpan: true }), new MySQL2Instrumentation()],
  });
  const require = createRequire(import.meta.url);
  // mysql2's instrumentation patches its internal lib/connection.js, which the package's exports
  // map does not expose: required by path (the hook recognises the file inside the package).
  const mysql2Dir = dirname(require.resolve("mysql2"));
  for (const path of [
    require.resolve("ioredis"),
    require.resolve("mysql2"),
    require.resolve("mysql2/promise"),
    join(mysql2Dir, "lib/connection.js"),
  ]) {
    require(path);
  }

  const tracer = provider.getTracer("seckill");
  const startSpan: Tracing["startSpan"] = (name, o) =>
    tracer.startSpan(name, { kind: o.kind, attributes: o.attributes, links: o.links }, o.parent ?? context.active());

  return {
    tracer,
    kinds: SpanKind,
    active: () => context.active(),
    startSpan,
    withSpan: (span, fn) => context.with(trace.setSpan(context.active(), span), fn),
    async inSpan(name, o, fn) {
      const span = startSpan(name, o);
      const parent = o.parent ?? context.active();
      try {
        return await context.with(trace.setSpan(parent, span), () => fn(span));
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    },
    inject(carrier, ctx?: Context) {
      propagation.inject(ctx ?? context.active(), carrier);
    },
    extract(carrier) {
      return propagation.extract(ROOT_CONTEXT, carrier);
    },
    async shutdown() {
      await provider.shutdown().catch((err) => opts.logger.warn({ err }, "tracing: could not export the last spans"));
    },
  };
}

/**
 * parentbased_traceidratio (the spec's sampler: a trace is kept or dropped whole, decided where
 * it starts), except that a client span with no parent is dropped: the mysql2 instrumentation
 * (which has no requireParentSpan option) would otherwise make a trace of every background query
 * (the expiry worker's poll every second, the sale cache), burying the purchases.
 */
function platformSampler(ratio: number): Sampler {
  const inner = new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  return {
    shouldSample(ctx, traceId, name, kind, attributes, links) {
      if (kind === SpanKind.CLIENT && !trace.getSpanContext(ctx)) return { decision: SamplingDecision.NOT_RECORD };
      return inner.shouldSample(ctx, traceId, name, kind, attributes, links);
    },
    toString: () => `PlatformSampler{${inner.toString()}}`,
  };
}
