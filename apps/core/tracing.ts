import type { Attributes, Context, Link, Span, SpanKind, Tracer } from "@opentelemetry/api";
import type { Logger } from "./logger.js";

/**
 * Tracing, off unless OTEL_EXPORTER_OTLP_ENDPOINT is set. This module imports OpenTelemetry
 * types only: when tracing is off no OpenTelemetry code is loaded at all, and every call site
 * on the purchase path pays one `tracing()` check (undefined) and nothing else. When on,
 * ./tracing-sdk.ts is loaded (the SDK, the OTLP/HTTP exporter and the ioredis and mysql2
 * instrumentations) and `tracing()` returns the helpers below.
 *
 * Context crosses processes as a W3C `traceparent` header (https://www.w3.org/TR/trace-context/):
 * on the gateway -> API hop (HTTP headers, in-process or not), and on the Kafka hops
 * (`seckill.orders`, `seckill.payments`) as a message header.
 */
export interface Tracing {
  tracer: Tracer;
  /** The current context (the active span's), to carry across a queue or a timer. */
  active(): Context;
  /**
   * Runs `fn` inside a new span (child of `parent`, default the active context) and ends it when
   * `fn` settles, recording a thrown error as the span's error status.
   */
  inSpan<T>(
    name: string,
    opts: { kind?: SpanKind; attributes?: Attributes; parent?: Context; links?: Link[] },
    fn: (span: Span) => Promise<T>,
  ): Promise<T>;
  /** Starts a span the caller ends (for work that outlives one function, such as a batched send). */
  startSpan(name: string, opts: { kind?: SpanKind; attributes?: Attributes; parent?: Context; links?: Link[] }): Span;
  /** Runs fn with `span` as the active span (so client instrumentations and inject() see it). */
  withSpan<T>(span: Span, fn: () => T): T;
  /** Writes `traceparent` (and `tracestate`) of `ctx` (default the active context) into `carrier`. */
  inject(carrier: Record<string, string>, ctx?: Context): void;
  /** The context a carrier (HTTP or Kafka headers) brings; the root context when it has none. */
  extract(carrier: Record<string, unknown>): Context;
  /** Exports what is buffered and stops (at shutdown; spans ended later are dropped). */
  shutdown(): Promise<void>;
  /** SpanKind values, so callers need no runtime import of @opentelemetry/api. */
  kinds: typeof SpanKind;
}

let current: Tracing | undefined;

/** The tracing helpers when tracing is on, else undefined (the check every call site makes). */
export function tracing(): Tracing | undefined {
  return current;
}

/**
 * Starts tracing for this process when `endpoint` is set (the OTLP/HTTP base URL, e.g.
 * http://otel-collector:4318; spans go to `<endpoint>/v1/traces`). Does nothing, and loads
 * nothing, when it is unset. Idempotent.
 */
export async function startTracing(opts: {
  endpoint?: string;
  serviceName: string;
  /** Share of traces kept, decided where a trace starts (OTEL_TRACES_SAMPLER_ARG); default 1. */
  ratio?: number;
  logger: Logger;
}): Promise<Tracing | undefined> {
  if (!opts.endpoint || current) return current;
  const { createTracing } = await import("./tracing-sdk.js");
  const ratio = opts.ratio ?? 1;
  current = createTracing({ endpoint: opts.endpoint, serviceName: opts.serviceName, ratio, logger: opts.logger });
  opts.logger.info({ endpoint: opts.endpoint, serviceName: opts.serviceName, ratio }, "tracing on: spans exported over OTLP/HTTP");
  return current;
}

/** Stops tracing (flushing buffered spans) if it is on. */
export async function stopTracing(): Promise<void> {
  const t = current;
  current = undefined;
  await t?.shutdown();
}

/** Kafka message headers as a plain carrier (kafkajs gives Buffers). */
export function kafkaCarrier(headers: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [k, v] of Object.entries(headers)) {
    const one = Array.isArray(v) ? v[0] : v;
    if (one !== undefined && one !== null) out[k] = typeof one === "string" ? one : String(one);
  }
  return out;
}
