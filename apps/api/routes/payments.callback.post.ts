import type { Hono } from "hono";
import { BODY_LIMITS, readBody } from "../../core/body.js";
import { AppError, parseJsonBody } from "../../core/errors.js";
import { type AppEnv, requestHeader } from "../../core/http.js";
import type { ConnectedProducer } from "../../core/kafka.js";
import { throttledLog } from "../../core/log-throttle.js";
import { json } from "../../core/respond.js";
import { tracing } from "../../core/tracing.js";
import { type PaymentMessage, paymentCallbackSchema, verifyPaymentSignature } from "../../domain/payment-event.js";
import type { ApiContext } from "../context.js";

/**
 * POST /api/payments/callback: verify the provider's signature, hand the event to
 * `seckill.payments`, answer 200 within milliseconds. The payments consumer applies it (see
 * apps/lifecycle/payments.ts); a repeated event, even many at once on several servers, changes
 * nothing there. If Kafka cannot take it, 503: the provider retries.
 */
export function register(app: Hono<AppEnv>, ctx: ApiContext, producer: ConnectedProducer) {
  const { config, topics, logger } = ctx.services;
  const log = logger.child({ component: "payments-callback" });
  const badSignatures = ctx.services.metrics.callbacksRefused.labels({ reason: "bad_signature" });
  // A forged-callback flood would otherwise write a warn line per request.
  const logBadSignature = throttledLog(10_000);
  const tracer = tracing();

  app.post("/api/payments/callback", async (c) => {
    const raw = (await readBody(c, BODY_LIMITS.callback)).toString("utf8");
    if (!verifyPaymentSignature(config.PAYMENT_WEBHOOK_SECRET, requestHeader(c, "x-timestamp"), requestHeader(c, "x-signature"), raw)) {
      badSignatures.inc();
      logBadSignature((suppressed) =>
        log.warn(
          { ip: requestHeader(c, "x-forwarded-for"), suppressed },
          "payment callback refused: bad signature or timestamp more than 300 s off (at most one line per 10 s; seckill_payment_callbacks_refused_total counts them all). Many: check PAYMENT_WEBHOOK_SECRET matches the provider's, and the clocks",
        ),
      );
      throw new AppError(
        "bad_signature",
        "signature or timestamp invalid (X-Signature = hex HMAC-SHA256 of `<X-Timestamp>.<body>`, within 300 s)",
      );
    }
    const callback = parseJsonBody(raw, paymentCallbackSchema);
    const message: PaymentMessage = { v: 1, ...callback, receivedAt: Date.now() };
    try {
      // The callback's span travels to the payments consumer in the message's traceparent header.
      const headers: Record<string, string> = {};
      tracer?.inject(headers);
      await producer.send({
        topic: topics.payments,
        acks: -1,
        messages: [{ key: message.orderId, value: JSON.stringify(message), headers }],
      });
    } catch (err) {
      log.error(
        { err, orderId: message.orderId, eventId: message.eventId },
        "payment event not handed to Kafka; answered 503 so the provider retries",
      );
      throw new AppError("unavailable", "payment event not recorded yet; please retry", { headers: { "Retry-After": "1" } });
    }
    return json(c, { received: true });
  });
}
