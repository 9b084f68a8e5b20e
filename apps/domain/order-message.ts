import { z } from "zod";
import { ORDER_ID_PATTERN } from "../core/ids.js";

export const SALE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** At most the bytes `orders.user_id` holds (VARBINARY(64)). */
export const USER_ID_MAX_BYTES = 64;
// Visible characters of any script: letters, marks, digits, punctuation, symbols. Identity
// providers put `|` in subjects (Auth0: `auth0|5f7c...`, `google-oauth2|1044...`) and user names
// in many scripts; whitespace, control and format characters stay out (a log line or an operator
// would not see them). Lone surrogates are category Cs, so the id is always valid UTF-8.
const USER_ID_CHARS = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]+$/u;

/**
 * Whether `value` is a user id (a JWT `sub`): 1-64 bytes of UTF-8, visible characters only.
 * Byte-exact like every identifier: `Ann` and `ann`, or `José` in NFC and in NFD, are two users.
 */
export function isUserId(value: unknown): value is string {
  return typeof value === "string" && USER_ID_CHARS.test(value) && Buffer.byteLength(value, "utf8") <= USER_ID_MAX_BYTES;
}

/**
 * The message on `seckill.orders`: everything the order writer needs to insert the row, so it
 * makes no lookups. Built by reserve-6.lua from orderMessageHead() (and stored there until Kafka
 * acknowledges it).
 */
export const orderMessageSchema = z.object({
  v: z.literal(1),
  orderId: z.string().regex(ORDER_ID_PATTERN),
  saleId: z.string().regex(SALE_ID_PATTERN),
  userId: z.string().refine(isUserId, "userId is not a user id"),
  slot: z.number().int().min(1).max(255),
  quantity: z.literal(1),
  amountCents: z.number().int().min(0),
  /** ms since the epoch, by Redis's clock */
  acceptedAt: z.number().int().positive(),
  payBy: z.number().int().positive(),
});

export type OrderMessage = z.infer<typeof orderMessageSchema>;

/**
 * The message's JSON up to the value of amountCents, for reserve-6.lua to complete with what
 * only Redis decides (price as loaded, slot, acceptedAt, payBy).
 */
export function orderMessageHead(orderId: string, saleId: string, userId: string): string {
  return `{"v":1,"orderId":${JSON.stringify(orderId)},"saleId":${JSON.stringify(saleId)},"userId":${JSON.stringify(userId)},"quantity":1,"amountCents":`;
}
