// Spike: the moment a sale opens, the arrival rate ramps to TARGET_RPS within seconds.
// Run: k6 run -e BASE_URL=http://127.0.0.1:3000 -e TARGET_RPS=3000 loadtest/k6/spike.js
import { check } from "k6";
import exec from "k6/execution";
import { buy, createSale, invariantThresholds, verifySale } from "./lib.js";

const TARGET = Number(__ENV.TARGET_RPS || 2000);
const STOCK = Number(__ENV.STOCK || 1000000);

export const options = {
  scenarios: {
    spike: {
      executor: "ramping-arrival-rate",
      startRate: 10,
      timeUnit: "1s",
      preAllocatedVUs: 200,
      maxVUs: 2000,
      stages: [
        { target: TARGET, duration: "10s" },
        { target: TARGET, duration: "30s" },
        { target: 0, duration: "5s" },
      ],
    },
  },
  thresholds: {
    "http_req_duration{name:purchase}": ["p(95)<50", "p(99)<100"],
    http_req_failed: ["rate<0.01"],
    checks: ["rate>0.99"],
  },
};
// No object spread: k6 v0.47 does not parse it.
Object.assign(options.thresholds, invariantThresholds);

export function setup() {
  return { saleId: createSale("spike", STOCK) };
}

export default function (data) {
  // Every iteration is a new buyer: the whole crowd buys once.
  const res = buy(data.saleId, `spike-${exec.scenario.iterationInTest}`);
  check(res, { "accepted or answered": (r) => [202, 409, 410, 429].includes(r.status) });
}

export function teardown(data) {
  verifySale(data.saleId, STOCK);
}
