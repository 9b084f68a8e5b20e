// Sell-out: a crowd many times the stock buys at once; exactly STOCK orders may be accepted.
// Run: k6 run -e BASE_URL=http://127.0.0.1:3000 -e STOCK=1000 -e BUYERS=200000 loadtest/k6/sellout.js
import { check } from "k6";
import exec from "k6/execution";
import { Counter } from "k6/metrics";
import { buy, createSale, invariantThresholds, verifySale } from "./lib.js";

const STOCK = Number(__ENV.STOCK || 1000);
const BUYERS = Number(__ENV.BUYERS || 200000);
const wins = new Counter("sellout_202");

export const options = {
  scenarios: {
    crowd: { executor: "shared-iterations", vus: Number(__ENV.VUS || 500), iterations: BUYERS, maxDuration: "5m" },
  },
  thresholds: {
    "http_req_duration{name:purchase}": ["p(95)<50", "p(99)<150"],
    http_req_failed: ["rate<0.01"],
    // No more 202s than units: the oversell threshold, seen from the client side too.
    sellout_202: [`count<=${STOCK}`],
  },
};
// No object spread: k6 v0.47 does not parse it.
Object.assign(options.thresholds, invariantThresholds);

export function setup() {
  return { saleId: createSale("sellout", STOCK) };
}

export default function (data) {
  const res = buy(data.saleId, `sellout-${exec.scenario.iterationInTest}`);
  if (res.status === 202) wins.add(1);
  check(res, { "202 or sold out": (r) => r.status === 202 || r.status === 410 || r.status === 429 });
}

export function teardown(data) {
  const stats = verifySale(data.saleId, STOCK);
  if (stats.remaining !== 0) console.warn(`sale not sold out: ${stats.remaining} left`);
}
