// Sell-out: a crowd many times the stock buys at once; exactly STOCK orders may be accepted.
// Run (see the README's k6 section for every variable):
//   k6 run -e BASE_URL=http://127.0.0.1:3000 -e ADMIN_TOKEN=$ADMIN_TOKEN -e JWT_SECRET=$JWT_SECRET -e STOCK=1000 -e BUYERS=20000 loadtest/k6/sellout.js
import { check } from "k6";
import exec from "k6/execution";
import { buy, createSale, numberEnv, SUMMARY_TREND_STATS, summarize, TEARDOWN_TIMEOUT, thresholds, verifySale } from "./lib.js";

const STOCK = numberEnv("STOCK", 1000);
const BUYERS = numberEnv("BUYERS", 20000);

export const options = {
  scenarios: {
    crowd: {
      executor: "shared-iterations",
      vus: numberEnv("VUS", 200),
      iterations: BUYERS,
      maxDuration: __ENV.MAX_DURATION || "5m",
    },
  },
  // Latency defaults assume a development machine: two cores shared by k6, the platform, Redis,
  // MariaDB and the Kafka mock, with k6's VUS all firing at once. On production hardware the
  // design's targets are -e P95_MS=50 -e P99_MS=150.
  thresholds: thresholds(STOCK, { p95Ms: 1000, p99Ms: 2000, failedRate: 0.01 }, { checks: ["rate>0.99"] }),
  summaryTrendStats: SUMMARY_TREND_STATS,
  teardownTimeout: TEARDOWN_TIMEOUT,
};

export function setup() {
  return { saleId: createSale("sellout", STOCK) };
}

export default function (data) {
  // Every iteration is a new buyer, so 409 and 429 cannot be fair answers here: a 429 means the
  // per-IP limit on bad tokens (a JWT_SECRET that is not the platform's).
  const res = buy(data.saleId, `sellout-${exec.scenario.iterationInTest}`);
  check(res, { "202 or sold out": (r) => r.status === 202 || r.status === 410 });
}

export function teardown(data) {
  const stats = verifySale(data.saleId, STOCK);
  if (stats.remaining !== 0) console.warn(`sale not sold out: ${stats.remaining} left`);
}

export function handleSummary(data) {
  return summarize(data, `sellout of ${STOCK} units to ${BUYERS} buyers`);
}
