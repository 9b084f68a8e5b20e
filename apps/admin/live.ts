import type { Registry } from "prom-client";
import { isHttpWorker, workerMetricsSource } from "../core/cluster.js";
import { PURCHASE_DURATION, PURCHASE_RESPONSES } from "../gateway/purchase-outcomes.js";

/**
 * The purchase series of one sale, read from this process's metrics (in an HTTP worker: the sum
 * over every process, as /metrics answers). A deployment whose admin runs apart from the
 * gateways sees none of their purchases here: point Prometheus at the gateways instead.
 */
export function createPurchaseReader(registry: Registry) {
  const text: () => Promise<string> = isHttpWorker
    ? workerMetricsSource(registry)
    : async () =>
        (await Promise.all([PURCHASE_RESPONSES, PURCHASE_DURATION].map((n) => registry.getSingleMetricAsString(n).catch(() => "")))).join(
          "\n",
        );
  return async (saleId: string) => parsePurchaseSeries(await text(), saleId);
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function labels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(LABEL)) out[m[1]] = m[2].replace(/\\(.)/g, (_, ch: string) => (ch === "n" ? "\n" : ch));
  return out;
}

/** Answers by status and the cumulative latency buckets of one sale, from Prometheus text format. */
export function parsePurchaseSeries(text: string, saleId: string) {
  const responses: Record<string, number> = {};
  const buckets = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue;
    const l = labels(m[2]);
    if (l.sale !== saleId) continue;
    if (m[1] === PURCHASE_RESPONSES) responses[l.status] = (responses[l.status] ?? 0) + Number(m[3]);
    else if (m[1] === `${PURCHASE_DURATION}_bucket`) buckets.set(l.le, (buckets.get(l.le) ?? 0) + Number(m[3]));
  }
  const latencyBuckets = [...buckets]
    .map(([le, count]) => ({ le: le === "+Inf" ? null : Number(le), count }))
    .sort((a, b) => (a.le ?? Number.POSITIVE_INFINITY) - (b.le ?? Number.POSITIVE_INFINITY));
  return { responses, latencyBuckets };
}
