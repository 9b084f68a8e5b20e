import { parseArgs } from "node:util";
import { loadConfigOrExit } from "../core/config.js";
import { simulatePayment } from "./simulate.js";
import { paymentTarget } from "./target.js";

/**
 * A payment provider for driving the flow by hand:
 *   npm run pay -- <orderId> [--amount CENTS] [--failed] [--copies N] [--concurrent N] [--retries] [--url URL]
 * Without --amount it reads the order's amount from the admin API. --retries resends the same
 * event after 1 s, 2 s and 5 s, as providers do when an answer is slow.
 */
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    amount: { type: "string" },
    failed: { type: "boolean", default: false },
    copies: { type: "string", default: "1" },
    concurrent: { type: "string", default: "1" },
    retries: { type: "boolean", default: false },
    url: { type: "string" },
    txn: { type: "string" },
    event: { type: "string" },
  },
});
const orderId = positionals[0];
if (!orderId) {
  process.stderr.write(
    "usage: npm run pay -- <orderId> [--amount CENTS] [--failed] [--copies N] [--concurrent N] [--retries] [--url URL]\n",
  );
  process.exit(2);
}
const config = loadConfigOrExit();
const { baseUrl, source } = paymentTarget(config, values.url);
const port = new URL(baseUrl).port || (baseUrl.startsWith("https:") ? "443" : "80");
process.stderr.write(`order ${orderId}: paying through ${baseUrl} (port ${port}, from ${source})\n`);

/** A refused connection is the common mistake (platform not started, another PORT): say so. */
function unreachable(err: unknown): never {
  process.stderr.write(
    `nothing answered at ${baseUrl} (${(err as Error).cause ?? err}); is npm start running there? Set PORT or pass --url\n`,
  );
  process.exit(1);
}
let amountCents = values.amount === undefined ? undefined : Number(values.amount);
if (amountCents === undefined) {
  const res = await fetch(`${baseUrl}/admin/orders/${orderId}`, { headers: { authorization: `Bearer ${config.ADMIN_TOKEN}` } }).catch(
    unreachable,
  );
  if (!res.ok) {
    process.stderr.write(`cannot read order ${orderId} from ${baseUrl}/admin (${res.status}: ${await res.text()}); pass --amount\n`);
    process.exit(1);
  }
  amountCents = ((await res.json()) as { amountCents: number }).amountCents;
}
const deliveries = await simulatePayment({
  baseUrl,
  secret: config.PAYMENT_WEBHOOK_SECRET,
  orderId,
  amountCents,
  status: values.failed ? "failed" : "succeeded",
  copies: Number(values.copies),
  concurrent: Number(values.concurrent),
  retryScheduleMs: values.retries ? [1000, 2000, 5000] : [],
  eventId: values.event,
  providerTxnId: values.txn,
}).catch(unreachable);
process.stderr.write(`order ${orderId}: ${amountCents} cents, ${values.failed ? "failed" : "succeeded"}, sent to port ${port}\n`);
for (const d of deliveries) process.stdout.write(`${d.status} ${d.ms} ms ${d.body}\n`);
