import { Agent, type Dispatcher, request } from "undici";
import { solvePow } from "../apps/domain/admission/challenge.js";
import { signTokens } from "./tokens.js";

/**
 * Node twins of loadtest/k6/queue.js and bots.js (where k6 cannot run), also used by
 * admission-figures.ts. Each talks HTTP to a running platform at `base`.
 */
export interface Target {
  base: string;
  adminToken: string;
  jwtSecret: string;
}

const agent = new Agent({ connections: 256, pipelining: 1, keepAliveTimeout: 30_000 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function call(
  t: Target,
  method: Dispatcher.HttpMethod,
  path: string,
  token: string,
  headers: Record<string, string> = {},
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(`${t.base}${path}`, {
    method,
    dispatcher: agent,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body: method === "GET" ? undefined : JSON.stringify(body ?? {}),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

export async function createAdmissionSale(
  t: Target,
  name: string,
  stock: number,
  admission: "open" | "pass" | "queue",
  opts: { startsInMs?: number; inletPerSecond?: number; powDifficultyBits?: number } = {},
): Promise<string> {
  const id = `${name}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const startsAt = Date.now() + (opts.startsInMs ?? 0);
  const created = await call(
    t,
    "POST",
    "/admin/sales",
    t.adminToken,
    {},
    {
      id,
      title: name,
      priceCents: 1999,
      stock,
      startsAt: new Date(startsAt).toISOString(),
      endsAt: new Date(startsAt + 2 * 3600_000).toISOString(),
      admission,
      ...opts,
      startsInMs: undefined,
    },
  );
  if (created.status !== 201) throw new Error(`create sale: ${created.status} ${JSON.stringify(created.body)}`);
  const pre = await call(t, "POST", `/admin/sales/${id}/preload?force=true`, t.adminToken);
  if (pre.status !== 200) throw new Error(`preload: ${pre.status} ${JSON.stringify(pre.body)}`);
  return id;
}

export async function saleStats(t: Target, saleId: string): Promise<Record<string, unknown>> {
  return (await call(t, "GET", `/admin/sales/${saleId}/stats`, t.adminToken)).body;
}

export interface QueueFlowResult {
  saleId: string;
  users: number;
  bought: number;
  soldOutSeen: number;
  stuck: number;
  joinsPerSecond: number;
  polls: number;
  /** Epoch ms of the last unit's 202, and the latest moment a waiter (polling as told) first saw sold_out. */
  lastUnitAt: number;
  lastSoldOutSeenAt: number;
  /**
   * When asked for: the moment the last unit's 202 came back, every other user read their place
   * at once; ms until the last of those answers, and how many said sold_out.
   */
  sweep?: { ms: number; soldOut: number; asked: number };
  stats: Record<string, unknown>;
}

/**
 * queue.js's twin: `users` join before the start, poll as pollAfterSeconds says, buy when
 * admitted. Exactly `stock` must buy, each once, and every other waiter must end told sold_out.
 */
export async function queueFlow(
  t: Target,
  opts: { users: number; stock: number; startsInMs: number; inletPerSecond: number; sweep?: boolean },
): Promise<QueueFlowResult> {
  const saleId = await createAdmissionSale(t, "queue-twin", opts.stock, "queue", {
    startsInMs: opts.startsInMs,
    inletPerSecond: opts.inletPerSecond,
  });
  const tokens = signTokens(t.jwtSecret, `qt-${saleId}`, opts.users);
  let bought = 0;
  let soldOutSeen = 0;
  let stuck = 0;
  let polls = 0;
  let lastUnitAt = 0;
  let lastSoldOutSeenAt = 0;
  const buyers = new Set<number>();
  let sweeping: Promise<QueueFlowResult["sweep"]> | undefined;
  const sweep = async () => {
    const started = performance.now();
    const others = tokens.filter((_, i) => !buyers.has(i));
    const answers = await Promise.all(others.map((tok) => call(t, "GET", `/api/sales/${saleId}/queue`, tok)));
    return { ms: performance.now() - started, soldOut: answers.filter((a) => a.body.state === "sold_out").length, asked: others.length };
  };

  const joinStart = performance.now();
  const places = await Promise.all(tokens.map((tok) => call(t, "POST", `/api/sales/${saleId}/queue`, tok)));
  const joinsPerSecond = opts.users / ((performance.now() - joinStart) / 1000);
  if (places.some((p) => p.status !== 202)) throw new Error(`join refused: ${JSON.stringify(places.find((p) => p.status !== 202))}`);

  await Promise.all(
    tokens.map(async (tok, i) => {
      let place = places[i].body;
      for (let n = 0; n < 5000; n++) {
        if (place.state === "admitted") {
          const order = await call(t, "POST", `/api/sales/${saleId}/orders`, tok, { "x-purchase-pass": String(place.pass) });
          if (order.status !== 202) throw new Error(`admitted buyer refused: ${order.status} ${JSON.stringify(order.body)}`);
          bought++;
          buyers.add(i);
          if (bought === opts.stock) {
            lastUnitAt = Date.now();
            if (opts.sweep) sweeping = sweep();
          }
          return;
        }
        if (place.state === "sold_out") {
          soldOutSeen++;
          lastSoldOutSeenAt = Math.max(lastSoldOutSeenAt, Date.now());
          return;
        }
        // A little jitter, as real clients have: no synchronised waves of polls.
        await sleep(Number(place.pollAfterSeconds) * 1000 * (0.9 + Math.random() * 0.2));
        const s = await call(t, "GET", `/api/sales/${saleId}/queue`, tok);
        polls++;
        if (s.status !== 200) throw new Error(`poll refused: ${s.status} ${JSON.stringify(s.body)}`);
        place = s.body;
      }
      stuck++;
    }),
  );
  return {
    saleId,
    users: opts.users,
    bought,
    soldOutSeen,
    stuck,
    joinsPerSecond,
    polls,
    lastUnitAt,
    lastSoldOutSeenAt,
    sweep: await sweeping,
    stats: await saleStats(t, saleId),
  };
}

export interface BotResult {
  attempts: number;
  botWins: number;
  statuses: Record<string, number>;
  honestAccepted: number;
  queueAccepted: number;
}

/**
 * bots.js's twin: bots without a pass, with forged passes, and with an honest buyer's pass
 * (replayed by others and by its owner), against a pass sale and a queue sale. They must get
 * nothing: the pass sale ends with the honest purchase only, the queue sale with none.
 */
export async function botFlow(t: Target, opts: { bots: number; difficultyBits: number }): Promise<BotResult> {
  const passSale = await createAdmissionSale(t, "bots-pass", 100, "pass", { powDifficultyBits: opts.difficultyBits });
  const queueSale = await createAdmissionSale(t, "bots-queue", 100, "queue", { inletPerSecond: 10 });
  const [honest] = signTokens(t.jwtSecret, `honest-${passSale}`, 1);
  const c = (await call(t, "GET", `/api/sales/${passSale}/challenge`, honest)).body;
  const nonce = solvePow(String(c.prefix), Number(c.difficultyBits));
  const got = await call(t, "POST", `/api/sales/${passSale}/pass`, honest, {}, { challengeId: c.challengeId, nonce });
  if (got.status !== 200) throw new Error(`honest pass: ${got.status}`);
  const reused = await call(t, "POST", `/api/sales/${passSale}/pass`, honest, {}, { challengeId: c.challengeId, nonce });
  if (reused.status !== 403) throw new Error(`a solved challenge bought a second pass: ${reused.status}`);
  const pass = String(got.body.pass);
  if ((await call(t, "POST", `/api/sales/${passSale}/orders`, honest, { "x-purchase-pass": pass })).status !== 202)
    throw new Error("honest purchase refused");

  const bots = signTokens(t.jwtSecret, `bot-${passSale}`, opts.bots);
  const statuses: Record<string, number> = {};
  let botWins = 0;
  const attempt = async (sale: string, token: string, passHeader?: string) => {
    const r = await call(t, "POST", `/api/sales/${sale}/orders`, token, passHeader ? { "x-purchase-pass": passHeader } : {});
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.status === 202) botWins++;
  };
  const forged = (i: number) =>
    `p1.${Buffer.from(JSON.stringify({ s: passSale, u: `bot-${passSale}-${i}`, e: Date.now() + 600_000 })).toString("base64url")}.${Buffer.alloc(32, i % 256).toString("base64url")}`;
  for (let i = 0; i < bots.length; i += 200) {
    await Promise.all(
      bots
        .slice(i, i + 200)
        .flatMap((tok, k) => [
          attempt(passSale, tok),
          attempt(queueSale, tok),
          attempt(passSale, tok, forged(i + k)),
          attempt(queueSale, tok, forged(i + k)),
          attempt(passSale, tok, pass),
          attempt(passSale, honest, pass),
        ]),
    );
  }
  const [p, q] = await Promise.all([saleStats(t, passSale), saleStats(t, queueSale)]);
  return { attempts: bots.length * 6, botWins, statuses, honestAccepted: Number(p.accepted), queueAccepted: Number(q.accepted) };
}
