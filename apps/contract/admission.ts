import { z } from "zod";
import { bodySchema as passBody } from "../api/routes/sales.$saleId.pass.post.js";
import type { Operation } from "./registry.js";
import { isoTime } from "./schemas.js";

/** Admission: purchase passes (proof of work) and the waiting room, for sales created with `admission` pass or queue. */
const saleId = z.string().meta({ description: "the sale id, byte-exact" });

const challenge = z
  .object({
    challengeId: z.string(),
    algorithm: z.literal("sha256-pow"),
    prefix: z.string(),
    difficultyBits: z.number().int(),
    expiresAt: isoTime,
  })
  .catchall(z.unknown())
  .meta({ id: "Challenge", description: "find a nonce with SHA-256(prefix + nonce) starting with difficultyBits zero bits" });

const pass = z.object({ pass: z.string(), expiresAt: isoTime }).meta({ id: "PurchasePass", description: "send it as X-Purchase-Pass" });

const queuePlace = z
  .object({
    state: z.enum(["waiting", "admitted", "sold_out"]),
    position: z.number().int(),
    estimatedWaitSeconds: z.number().int(),
    pollAfterSeconds: z.number().int(),
    pass: z.string().optional().meta({ description: "when admitted: buy with it as X-Purchase-Pass" }),
    passExpiresAt: isoTime.optional(),
  })
  .meta({ id: "QueuePlace" });

/** What both queue calls say about the gateway's limit (gateway/routes/sales.$saleId.queue.ts). */
const QUEUE_LIMIT =
  "Joins and polls of one user for one sale count together against QUEUE_RATE_LIMIT_PER_SEC (default 100) a second; past it the answer is 429 rate_limited with Retry-After, and nothing changes (a place held is kept). A client that polls as pollAfterSeconds says never reaches it.";

export const admissionOperations: Operation[] = [
  {
    method: "get",
    path: "/api/sales/:saleId/challenge",
    tag: "admission",
    summary: "A proof-of-work challenge for a purchase pass (pass sales, from the start)",
    security: "user",
    params: { saleId },
    ok: { 200: { description: "the challenge", schema: challenge } },
    errors: ["unauthorized", "sale_not_started", "sale_ended", "sale_not_found", "not_found", "sold_out"],
  },
  {
    method: "post",
    path: "/api/sales/:saleId/pass",
    tag: "admission",
    summary: "Trade a solved challenge for a purchase pass",
    security: "user",
    params: { saleId },
    body: passBody.meta({ id: "PassRequest" }),
    ok: { 200: { description: "the pass, valid for the sale's admissionWindowSeconds", schema: pass } },
    errors: [
      "invalid_request",
      "bad_solution",
      "unauthorized",
      "invalid_challenge",
      "sale_not_started",
      "sale_ended",
      "sale_not_found",
      "not_found",
      "sold_out",
    ],
  },
  {
    method: "post",
    path: "/api/sales/:saleId/queue",
    tag: "admission",
    summary: "Join the waiting room (queue sales); joining again returns the same place",
    description: QUEUE_LIMIT,
    security: "user",
    params: { saleId },
    ok: { 202: { description: "the place", schema: queuePlace } },
    errors: ["unauthorized", "sale_ended", "sale_not_found", "not_found", "sold_out", "rate_limited"],
  },
  {
    method: "get",
    path: "/api/sales/:saleId/queue",
    tag: "admission",
    summary: "The caller's place in the waiting room",
    description: `state is sold_out once no unit is left: at once for a sale in one stock bucket, at the next admission tick (ADMISSION_TICK_MS, 100 ms) for a sale split over stockBuckets > 1, whose total the tick reads; a unit that comes back admits the queue's head at a later tick. ${QUEUE_LIMIT}`,
    security: "user",
    params: { saleId },
    ok: { 200: { description: "the place", schema: queuePlace } },
    errors: ["unauthorized", "sale_ended", "sale_not_found", "not_found", "not_in_queue", "rate_limited"],
  },
];
