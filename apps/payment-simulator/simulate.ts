import { randomUUID } from "node:crypto";
import { signPayment } from "../domain/payment-event.js";

export interface SimulateOptions {
  baseUrl: string;
  secret: string;
  orderId: string;
  amountCents: number;
  status?: "succeeded" | "failed";
  /** The same event sent this many times in all. */
  copies?: number;
  /** How many copies go at once (the rest follow one by one). */
  concurrent?: number;
  /** Resend the same event after these delays (a provider's retry schedule), e.g. [1000, 2000, 5000]. */
  retryScheduleMs?: number[];
  eventId?: string;
  providerTxnId?: string;
  /** Seconds added to the signing time (to test the 300 s window). */
  clockSkewS?: number;
}

export interface Delivery {
  status: number;
  body: string;
  ms: number;
}

/** Signs and sends a payment callback as a provider would, including duplicates and retries. */
export async function simulatePayment(o: SimulateOptions): Promise<Delivery[]> {
  const body = JSON.stringify({
    eventId: o.eventId ?? `evt_${randomUUID()}`,
    orderId: o.orderId,
    providerTxnId: o.providerTxnId ?? `txn_${randomUUID()}`,
    amountCents: o.amountCents,
    status: o.status ?? "succeeded",
  });
  const deliver = async (): Promise<Delivery> => {
    const ts = Math.floor(Date.now() / 1000) + (o.clockSkewS ?? 0);
    const started = performance.now();
    const res = await fetch(`${o.baseUrl}/api/payments/callback`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-timestamp": String(ts), "x-signature": signPayment(o.secret, ts, body) },
      body,
    });
    return { status: res.status, body: await res.text(), ms: Math.round(performance.now() - started) };
  };
  const copies = o.copies ?? 1;
  const atOnce = Math.min(copies, o.concurrent ?? 1);
  const out = await Promise.all(Array.from({ length: atOnce }, deliver));
  for (let i = atOnce; i < copies; i++) out.push(await deliver());
  for (const delay of o.retryScheduleMs ?? []) {
    await new Promise((r) => setTimeout(r, delay));
    out.push(await deliver());
  }
  return out;
}
