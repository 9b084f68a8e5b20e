import { z } from "zod";
import { ORDER_ID_PATTERN } from "../core/ids.js";

export const SALE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const USER_ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,64}$/;

/**
 * The message on `seckill.orders`: everything the order writer needs to insert the row, so it
 * makes no lookups. Built by reserve-6.lua from orderMessageHead() (and stored there until Kafka
 * acknowledges it).
 */
export const orderMessageSchema = z.object({
  v: z.literal(1),
  orderId: z.string().regex(ORDER_ID_PATTERN),
  saleId: z.string().regex(SALE_ID_PATTERN),
  userId: z.string().regex(USER_ID_PATTERN),
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
