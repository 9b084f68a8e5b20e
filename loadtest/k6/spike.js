// Spike: the moment a sale opens, the arrival rate ramps to TARGET_RPS within RAMP, holds for
// HOLD, and falls to zero over RAMP_DOWN. Every request is a new buyer.
// Run (see the README's k6 section for every variable):
//   k6 run -e BASE_URL=http://127.0.0.1:3000 -e ADMIN_TOKEN=$ADMIN_TOKEN -e JWT_SECRET=$JWT_SECRET -e TARGET_RPS=300 loadtest/k6/spike.js
import { check } from "k6";
import exec from "k6/execution";
import { buy, createSale, numberEnv, SUMMARY_TREND_STATS, summarize, TEARDOWN_TIMEOUT, thresholds, verifySale } from "./lib.js";

// 300/s assumes a development machine (two cores shared with the whole stack and k6); a
// production edge is sized for thousands per second: raise TARGET_RPS and the VU caps with it.
const TARGET = numberEnv("TARGET_RPS", 300);
const STOCK = numberEnv("STOCK", 1000000);

export const options = {
  scenarios: {
    spike: {
      executor: "ramping-arrival-rate",
      startRate: Math.min(10, TARGET),
      timeUnit: "1s",
      preAllocatedVUs: numberEnv("VUS", 100),
      maxVUs: numberEnv("MAX_VUS", 1000),
      stages: [
        { target: TARGET, duration: __ENV.RAMP || "10s" },
        { target: TARGET, duration: __ENV.HOLD || "30s" },
        { target: 0, duration: __ENV.RAMP_DOWN || "5s" },
      ],
    },
  },
  // Latency defaults assume TARGET_RPS=300 on a development machine (two cores shared by k6,
  // the platform, Redis, MariaDB and the Kafka mock, where queueing dominates the tail); the design's targets on
  // production hardware are -e P95_MS=50 -e P99_MS=100.
  thresholds: thresholds(STOCK, { p95Ms: 500, p99Ms: 2000, failedRate: 0.01 }, { checks: ["rate>0.99"] }),
  summaryTrendStats: SUMMARY_TREND_STATS,
  teardownTimeout: TEARDOWN_TIMEOUT,
};

export function setup() {
  return { saleId: createSale("spike", STOCK) };
}

export default function (data) {
  // A new buyer each time: 202 (bought) and 410 (sold out) are the only fair answers. 429 would
  // mean the per-IP limit on bad tokens (a wrong JWT_SECRET), 409 a buyer seen twice.
  const res = buy(data.saleId, `spike-${exec.scenario.iterationInTest}`);
  check(res, { "bought or sold out": (r) => r.status === 202 || r.status === 410 });
}

export function teardown(data) {
  verifySale(data.saleId, STOCK);
}

export function handleSummary(data) {
  return summarize(data, `spike to ${TARGET}/s`);
}
