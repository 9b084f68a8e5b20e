// Shared by queue.js and bots.js: sales with admission, the waiting-room calls, and a k6 solver
// for the proof-of-work challenge. Plain ES2017 (k6 v0.47 parses no object spread, no numeric
// separators, no optional chaining).
import crypto from "k6/crypto";
import http from "k6/http";
import { ADMIN_TOKEN, BASE_URL, countStatus } from "./lib.js";

const adminHeaders = { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" };
const userHeaders = (token, extra) => Object.assign({ Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, extra || {});

/** Creates and preloads a sale with `admission` (open | pass | queue); returns its id. */
export function createAdmissionSale(name, stock, admission, opts) {
  const o = opts || {};
  const id = `k6-${name}-${Date.now()}`;
  const startsAt = new Date(Date.now() + (o.startsInS || 0) * 1000);
  const body = {
    id: id,
    title: `k6 ${name}`,
    priceCents: 1999,
    stock: stock,
    startsAt: startsAt.toISOString(),
    endsAt: new Date(startsAt.getTime() + 2 * 3600 * 1000).toISOString(),
    admission: admission,
  };
  if (o.inletPerSecond) body.inletPerSecond = o.inletPerSecond;
  if (o.powDifficultyBits !== undefined) body.powDifficultyBits = o.powDifficultyBits;
  if (o.admissionWindowSeconds) body.admissionWindowSeconds = o.admissionWindowSeconds;
  const res = http.post(`${BASE_URL}/admin/sales`, JSON.stringify(body), { headers: adminHeaders });
  if (res.status !== 201) throw new Error(`create sale: ${res.status} ${res.body}`);
  const pre = http.post(`${BASE_URL}/admin/sales/${id}/preload?force=true`, null, { headers: adminHeaders });
  if (pre.status !== 200) throw new Error(`preload: ${pre.status} ${pre.body}`);
  return id;
}

export function joinQueue(saleId, token) {
  return http.post(`${BASE_URL}/api/sales/${saleId}/queue`, "{}", { headers: userHeaders(token), tags: { name: "queue_join" } });
}

export function queueStatus(saleId, token) {
  return http.get(`${BASE_URL}/api/sales/${saleId}/queue`, { headers: userHeaders(token), tags: { name: "queue_poll" } });
}

/** A purchase, with X-Purchase-Pass when `pass` is given. */
export function buyWithPass(saleId, token, pass, userId) {
  const extra = { "Idempotency-Key": `k6-${userId || Math.random().toString(36).slice(2)}` };
  if (pass) extra["X-Purchase-Pass"] = pass;
  const res = http.post(`${BASE_URL}/api/sales/${saleId}/orders`, "{}", { headers: userHeaders(token, extra), tags: { name: "purchase" } });
  countStatus(res);
  return res;
}

export function getChallenge(saleId, token) {
  return http.get(`${BASE_URL}/api/sales/${saleId}/challenge`, { headers: userHeaders(token), tags: { name: "challenge" } });
}

export function postPass(saleId, token, challengeId, nonce) {
  return http.post(`${BASE_URL}/api/sales/${saleId}/pass`, JSON.stringify({ challengeId: challengeId, nonce: nonce }), {
    headers: userHeaders(token),
    tags: { name: "pass" },
  });
}

function leadingZeroBits(hex) {
  let bits = 0;
  for (let i = 0; i < hex.length; i++) {
    const nibble = parseInt(hex[i], 16);
    if (nibble === 0) {
      bits += 4;
      continue;
    }
    return bits + (nibble < 2 ? 3 : nibble < 4 ? 2 : nibble < 8 ? 1 : 0);
  }
  return bits;
}

/** Brute force: a nonce with SHA-256(prefix + nonce) starting with `bits` zero bits (about 2^bits hashes). */
export function solve(prefix, bits) {
  for (let i = 0; ; i++) {
    if (leadingZeroBits(crypto.sha256(prefix + i, "hex")) >= bits) return String(i);
  }
}
