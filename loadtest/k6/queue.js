// Waiting room: USERS join before the start, poll as pollAfterSeconds says, buy when admitted.
// No more than STOCK purchases may succeed, each admitted buyer buys once, and every waiter
// ends told sold_out.
// Run: k6 run -e BASE_URL=http://127.0.0.1:3000 -e USERS=2000 -e STOCK=100 -e START_IN_S=30 loadtest/k6/queue.js
// Node twin: npx tsx loadtest/admission.ts queue
import { check, sleep } from "k6";
import exec from "k6/execution";
import { Counter } from "k6/metrics";
import { buyWithPass, createAdmissionSale, joinQueue, queueStatus } from "./admission-lib.js";
import { invariantThresholds, SUMMARY_TREND_STATS, summarize, TEARDOWN_TIMEOUT, userToken, verifySale } from "./lib.js";

const STOCK = Number(__ENV.STOCK || 100);
const USERS = Number(__ENV.USERS || 2000);
const START_IN_S = Number(__ENV.START_IN_S || 30);
const INLET = Number(__ENV.INLET || 50);

const bought = new Counter("queue_bought");
const soldOutSeen = new Counter("queue_sold_out_seen");
const lost = new Counter("queue_stuck");

export const options = {
  setupTimeout: "60s",
  // teardown() waits up to VERIFY_WAIT_S for every accepted order to be a row: k6's default 60 s would cut it short.
  teardownTimeout: TEARDOWN_TIMEOUT,
  summaryTrendStats: SUMMARY_TREND_STATS,
  scenarios: {
    waiters: { executor: "per-vu-iterations", vus: USERS, iterations: 1, maxDuration: "15m" },
  },
  thresholds: {
    queue_bought: [`count<=${STOCK}`],
    // Every waiter ends admitted-and-bought or told sold_out; none is left hanging.
    queue_stuck: ["count==0"],
    http_req_failed: ["rate<0.01"],
    checks: ["rate>0.99"],
  },
};
Object.assign(options.thresholds, invariantThresholds);

export function setup() {
  return { saleId: createAdmissionSale("queue", STOCK, "queue", { startsInS: START_IN_S, inletPerSecond: INLET }) };
}

export default function (data) {
  const userId = `k6q-${exec.vu.idInTest}-${data.saleId}`;
  const token = userToken(userId);
  let res = joinQueue(data.saleId, token);
  if (!check(res, { "joined (202)": (r) => r.status === 202 })) return;
  let place = res.json();
  for (let polls = 0; polls < 2000; polls++) {
    if (place.state === "admitted") {
      const order = buyWithPass(data.saleId, token, place.pass, userId);
      check(order, { "an admitted buyer gets 202": (r) => r.status === 202 });
      if (order.status === 202) bought.add(1);
      return;
    }
    if (place.state === "sold_out") {
      soldOutSeen.add(1);
      return;
    }
    sleep(place.pollAfterSeconds);
    res = queueStatus(data.saleId, token);
    if (!check(res, { "place readable (200)": (r) => r.status === 200 })) return;
    place = res.json();
  }
  lost.add(1);
}

export function teardown(data) {
  verifySale(data.saleId, STOCK);
}

export function handleSummary(data) {
  return summarize(data, `waiting room: ${USERS} users for ${STOCK} units`);
}
