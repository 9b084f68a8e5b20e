// Soak: a long, steady sale at a constant arrival rate; watch for leaks and a growing backlog.
// Run: k6 run -e BASE_URL=http://127.0.0.1:3000 -e RPS=300 -e DURATION=30m loadtest/k6/soak.js
import { check, sleep } from "k6";
import exec from "k6/execution";
import http from "k6/http";
import { Trend } from "k6/metrics";
import { ADMIN_TOKEN, BASE_URL, buy, createSale, invariantThresholds, verifySale } from "./lib.js";

const RPS = Number(__ENV.RPS || 200);
const DURATION = __ENV.DURATION || "10m";
const STOCK = Number(__ENV.STOCK || 10000000);
const backlog = new Trend("seckill_pending_handoff");

export const options = {
  scenarios: {
    steady: { executor: "constant-arrival-rate", rate: RPS, timeUnit: "1s", duration: DURATION, preAllocatedVUs: 100, maxVUs: 1000 },
    watch: { executor: "constant-vus", vus: 1, duration: DURATION, exec: "watch" },
  },
  thresholds: {
    "http_req_duration{name:purchase}": ["p(95)<30", "p(99)<80"],
    http_req_failed: ["rate<0.001"],
    // The handoff backlog stays small: Kafka keeps up with the accepted orders.
    seckill_pending_handoff: ["p(99)<1000"],
  },
};
// No object spread: k6 v0.47 does not parse it.
Object.assign(options.thresholds, invariantThresholds);

export function setup() {
  return { saleId: createSale("soak", STOCK, 24) };
}

export default function (data) {
  const res = buy(data.saleId, `soak-${exec.scenario.iterationInTest}`);
  check(res, { accepted: (r) => r.status === 202 });
}

export function watch(data) {
  const res = http.get(`${BASE_URL}/admin/sales/${data.saleId}/stats`, {
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
    tags: { name: "stats" },
  });
  if (res.status === 200) backlog.add(JSON.parse(res.body).pendingHandoff);
  sleep(5);
}

export function teardown(data) {
  verifySale(data.saleId, STOCK, 300);
}
