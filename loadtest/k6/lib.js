// Shared by the k6 scripts: JWT signing (HS256, sub = user id), the admin calls, and the
// end-of-run check that every accepted order reached MySQL and nothing was oversold.
import { sleep } from "k6";
import crypto from "k6/crypto";
import encoding from "k6/encoding";
import http from "k6/http";
import { Counter } from "k6/metrics";

export const BASE_URL = __ENV.BASE_URL || "http://127.0.0.1:3000";
export const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || "dev-admin-token-change-me";
export const JWT_SECRET = __ENV.JWT_SECRET || "dev-jwt-secret-change-me-0123456789abcdef";

/** Incremented by teardown() when the sale sold more than its stock: the threshold fails on any. */
export const oversold = new Counter("seckill_oversold");
/** Incremented by teardown() for accepted orders that never became rows. */
export const lost = new Counter("seckill_lost");
export const accepted = new Counter("seckill_accepted");

// 409/410/429 are answers, not failures: only 5xx and transport errors count as failed requests.
http.setResponseCallback(http.expectedStatuses(200, 201, 202, 409, 410, 429));

const HEADER = encoding.b64encode(JSON.stringify({ alg: "HS256", typ: "JWT" }), "rawurl");

export function userToken(userId) {
  const payload = encoding.b64encode(JSON.stringify({ sub: userId, exp: Math.floor(Date.now() / 1000) + 6 * 3600 }), "rawurl");
  const body = `${HEADER}.${payload}`;
  return `${body}.${crypto.hmac("sha256", JWT_SECRET, body, "base64rawurl")}`;
}

const adminHeaders = { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" };

/** Creates a sale open now and preloads it; returns its id. */
export function createSale(name, stock, hours = 2) {
  const id = `k6-${name}-${Date.now()}`;
  const now = new Date();
  const res = http.post(
    `${BASE_URL}/admin/sales`,
    JSON.stringify({
      id,
      title: `k6 ${name}`,
      priceCents: 1999,
      stock,
      startsAt: now.toISOString(),
      endsAt: new Date(now.getTime() + hours * 3600000).toISOString(),
    }),
    { headers: adminHeaders },
  );
  if (res.status !== 201) throw new Error(`create sale: ${res.status} ${res.body}`);
  const pre = http.post(`${BASE_URL}/admin/sales/${id}/preload?force=true`, null, { headers: adminHeaders });
  if (pre.status !== 200) throw new Error(`preload: ${pre.status} ${pre.body}`);
  return id;
}

export function buy(saleId, userId) {
  return http.post(`${BASE_URL}/api/sales/${saleId}/orders`, "{}", {
    headers: { Authorization: `Bearer ${userToken(userId)}`, "Content-Type": "application/json", "Idempotency-Key": `k6-${userId}` },
    tags: { name: "purchase" },
  });
}

/** Waits (up to waitS) until MySQL holds every accepted order, then records lost/oversold. */
export function verifySale(saleId, stock, waitS = 120) {
  let stats;
  for (let i = 0; i < waitS; i++) {
    stats = JSON.parse(http.get(`${BASE_URL}/admin/sales/${saleId}/stats`, { headers: adminHeaders }).body);
    if (stats.persisted >= stats.accepted && stats.pendingHandoff === 0) break;
    sleep(1);
  }
  accepted.add(stats.accepted);
  lost.add(Math.max(0, stats.accepted - stats.persisted));
  oversold.add(Math.max(0, stats.persisted - stock));
  console.log(`sale ${saleId}: stock ${stock}, accepted ${stats.accepted}, persisted ${stats.persisted}, remaining ${stats.remaining}`);
  return stats;
}

export const invariantThresholds = {
  seckill_oversold: ["count==0"],
  seckill_lost: ["count==0"],
};
