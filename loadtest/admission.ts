import { DEV_SECRETS } from "../apps/core/config.js";
import { botFlow, queueFlow, type Target } from "./admission-flows.js";

/**
 * Node twins of loadtest/k6/queue.js and bots.js, against a running platform (npm start):
 *   npx tsx loadtest/admission.ts queue   # USERS (2000), STOCK (100), START_IN_S (10), INLET (50)
 *   npx tsx loadtest/admission.ts bots    # BOTS (2000), DIFFICULTY (12)
 * BASE_URL, ADMIN_TOKEN and JWT_SECRET default to npm start's development values. Exits 1 when
 * an invariant breaks (more sold than stock, a waiter left hanging, a bot that bought).
 */
const t: Target = {
  base: process.env.BASE_URL ?? "http://127.0.0.1:3000",
  adminToken: process.env.ADMIN_TOKEN ?? DEV_SECRETS.ADMIN_TOKEN,
  jwtSecret: process.env.JWT_SECRET ?? DEV_SECRETS.JWT_SECRET,
};
const env = (name: string, def: number) => Number(process.env[name] ?? def);
const which = process.argv[2];

if (which === "queue") {
  const stock = env("STOCK", 100);
  const r = await queueFlow(t, {
    users: env("USERS", 2000),
    stock,
    startsInMs: env("START_IN_S", 10) * 1000,
    inletPerSecond: env("INLET", 50),
  });
  const ok =
    r.bought === Math.min(stock, r.users) && r.stuck === 0 && r.bought + r.soldOutSeen === r.users && Number(r.stats.accepted) === r.bought;
  process.stdout.write(`${JSON.stringify({ ...r, lastSoldOutSeenAfterLastUnitMs: r.lastSoldOutSeenAt - r.lastUnitAt, ok }, null, 2)}\n`);
  process.exit(ok ? 0 : 1);
} else if (which === "bots") {
  const r = await botFlow(t, { bots: env("BOTS", 2000), difficultyBits: env("DIFFICULTY", 12) });
  const ok = r.botWins === 0 && r.honestAccepted === 1 && r.queueAccepted === 0;
  process.stdout.write(`${JSON.stringify({ ...r, ok }, null, 2)}\n`);
  process.exit(ok ? 0 : 1);
} else {
  process.stderr.write("usage: npx tsx loadtest/admission.ts queue|bots\n");
  process.exit(2);
}
