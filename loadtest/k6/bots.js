// Bots against pass and queue sales: no pass, forged passes, and a real pass replayed by other
// users and by its owner. They must get nothing: bot_wins must stay 0, and the sales end with only
// the one legitimate purchase.
// Run: k6 run -e BASE_URL=http://127.0.0.1:3000 -e BOTS=5000 loadtest/k6/bots.js
// Node twin: npx tsx loadtest/admission.ts bots
import { check } from "k6";
import encoding from "k6/encoding";
import exec from "k6/execution";
import http from "k6/http";
import { Counter } from "k6/metrics";
import { buyWithPass, createAdmissionSale, getChallenge, postPass, solve } from "./admission-lib.js";
import { ADMIN_TOKEN, BASE_URL, SUMMARY_TREND_STATS, summarize, userToken } from "./lib.js";

const BOTS = Number(__ENV.BOTS || 3000);
const DIFFICULTY = Number(__ENV.DIFFICULTY || 12);
const botWins = new Counter("bot_wins");

// 403 is the answer expected here, not a failure.
http.setResponseCallback(http.expectedStatuses(200, 201, 202, 403, 409, 410, 429));

export const options = {
  setupTimeout: "120s",
  scenarios: {
    no_pass: { executor: "shared-iterations", vus: 50, iterations: BOTS, exec: "noPass", maxDuration: "5m" },
    forged: { executor: "shared-iterations", vus: 50, iterations: BOTS, exec: "forged", maxDuration: "5m" },
    replayed: { executor: "shared-iterations", vus: 50, iterations: BOTS, exec: "replayed", maxDuration: "5m" },
  },
  thresholds: { bot_wins: ["count==0"], checks: ["rate==1"] },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup() {
  const passSale = createAdmissionSale("bots-pass", 100, "pass", { powDifficultyBits: DIFFICULTY });
  const queueSale = createAdmissionSale("bots-queue", 100, "queue", { inletPerSecond: 10 });
  // One honest buyer solves a challenge and buys: the pass the bots then replay.
  const owner = `k6-honest-${Date.now()}`;
  const token = userToken(owner);
  const c = getChallenge(passSale, token).json();
  const nonce = solve(c.prefix, c.difficultyBits);
  const got = postPass(passSale, token, c.challengeId, nonce);
  if (got.status !== 200) throw new Error(`honest pass: ${got.status} ${got.body}`);
  const reused = postPass(passSale, token, c.challengeId, nonce);
  if (reused.status !== 403) throw new Error(`a solved challenge was accepted twice: ${reused.status}`);
  const pass = got.json().pass;
  const bought = buyWithPass(passSale, token, pass, owner);
  if (bought.status !== 202) throw new Error(`honest purchase: ${bought.status} ${bought.body}`);
  return { passSale: passSale, queueSale: queueSale, owner: owner, pass: pass };
}

function bot(kind) {
  const id = `k6-bot-${kind}-${exec.scenario.iterationInTest}`;
  return { id: id, token: userToken(id) };
}

function refused(res, what) {
  if (res.status === 202) botWins.add(1);
  const ok = check(res, { [what]: (r) => r.status === 403 || r.status === 409 || r.status === 429 });
  return ok;
}

export function noPass(data) {
  const b = bot("nopass");
  refused(buyWithPass(data.passSale, b.token, null, b.id), "no pass: refused");
  refused(buyWithPass(data.queueSale, b.token, null, b.id), "no pass (queue): refused");
}

export function forged(data) {
  const b = bot("forged");
  const claims = encoding.b64encode(JSON.stringify({ s: data.passSale, u: b.id, e: Date.now() + 600000 }), "rawurl");
  const fake = `p1.${claims}.${encoding.b64encode("not the platform's signature 0123", "rawurl")}`;
  refused(buyWithPass(data.passSale, b.token, fake, b.id), "forged pass: refused");
  refused(buyWithPass(data.queueSale, b.token, fake, b.id), "forged pass (queue): refused");
}

export function replayed(data) {
  const b = bot("replay");
  refused(buyWithPass(data.passSale, b.token, data.pass, b.id), "another user's pass: refused");
  // The owner replaying their own pass gets 409: a pass buys within the per-user limit only.
  refused(buyWithPass(data.passSale, userToken(data.owner), data.pass, `${data.owner}-again-${b.id}`), "replay by owner: refused");
}

export function teardown(data) {
  const headers = { Authorization: `Bearer ${ADMIN_TOKEN}` };
  const pass = JSON.parse(http.get(`${BASE_URL}/admin/sales/${data.passSale}/stats`, { headers: headers }).body);
  const queue = JSON.parse(http.get(`${BASE_URL}/admin/sales/${data.queueSale}/stats`, { headers: headers }).body);
  console.log(`pass sale accepted ${pass.accepted} (1 honest), queue sale accepted ${queue.accepted} (0)`);
  if (pass.accepted !== 1 || queue.accepted !== 0) botWins.add(pass.accepted - 1 + queue.accepted);
}

export function handleSummary(data) {
  return summarize(data, `bots: ${BOTS} per kind`);
}
