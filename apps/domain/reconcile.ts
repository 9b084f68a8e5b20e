import { eq, inArray, sql } from "drizzle-orm";
import type { Admin } from "kafkajs";
import { orders, sales } from "../core/db/schema/index.js";
import { consumerLag } from "../core/kafka.js";
import type { Services } from "../core/services.js";
import { type OrderMessage, orderMessageSchema } from "./order-message.js";
import type { SaleSnapshot, SaleStore } from "./sale-store.js";
import { createStockHomes, describeHome, recordedHome, type StockHome, sameHome } from "./stock-home.js";
import { returnStock } from "./stock-return.js";

export type ReconcileState =
  /** Redis, Kafka and MySQL agree. */
  | "consistent"
  /** Safe repairs were made (owed releases, overdue handoffs expedited). */
  | "repaired"
  /** Redis had lost the sale's state; it was recomputed from MySQL and the pending handoffs, and the sale reopened. */
  | "recomputed"
  /** The sale needs a recompute but the order writer has not consumed everything yet: it stays closed; run again shortly. */
  | "waiting_for_writer"
  /** Something no automatic repair may touch (see `problems`). */
  | "needs_attention"
  /** The sale's stock lives in another home (`stockHome`): nothing compared, rebuilt or reopened here. */
  | "elsewhere"
  /** No home recorded and this Redis does not hold the sale: nothing to compare until it is preloaded. */
  | "no_home";

export interface ReconcileReport {
  saleId: string;
  state: ReconcileState;
  totalStock: number;
  redis: { loaded: boolean; blocked: boolean; remaining: number | null; liveSlots: number; pendingHandoff: number; released: number };
  mysql: { pendingPayment: number; paid: number; closed: number; refundRequired: number; releaseOwed: number };
  kafka: { writerLag: number | null };
  /** Accepted orders not yet rows: handoff records plus live Redis slots MySQL does not know yet. */
  inTransit: number;
  repairs: string[];
  problems: string[];
  reopened: boolean;
  /** The sale's stock home, when it is not this instance's (states elsewhere and no_home). */
  stockHome?: StockHome | null;
}

/** What the periodic pass reads of a sale before deciding whether it needs the full comparison. */
export interface QuickLook {
  loaded: boolean;
  blocked: boolean;
  started: boolean;
  totalStock: number;
  /** Redis: stock left, and the meta counters the reserve and release scripts keep. */
  remaining: number;
  accepted: number;
  released: number;
  /** MySQL: order rows of the sale, and closed orders whose unit was never returned. */
  rows: number;
  owed: number;
  /** Stock moves between buckets taken and not received (a crash in between leaves one). */
  movesInFlight?: number;
}

/**
 * Why a sale needs the full reconcile, or null when its cheap figures agree. The full pass
 * reads every order row and every buyer of the sale, which at tens of thousands of orders
 * stalls the process for tens of milliseconds: the periodic job runs it only when one of these
 * says so (or on its deep interval). A Redis that lost data is caught here too: the guard blocks
 * its sales (blocked), a flush unloads them (not loaded), and a counter out of step with the
 * stock shows as drift.
 */
export function fullPassReason(q: QuickLook): string | null {
  if (!q.loaded) return q.rows > 0 || q.started ? "not loaded in Redis" : null;
  if (q.blocked) return "blocked until reconcile";
  if (q.owed > 0) return `${q.owed} closed order(s) owe their unit`;
  if (q.movesInFlight) return `${q.movesInFlight} stock move(s) between buckets unfinished`;
  const drift = q.remaining + (q.accepted - q.released) - q.totalStock;
  if (drift !== 0) return `Redis counters drift by ${drift}`;
  if (q.rows > q.accepted) return "MySQL has more orders than Redis accepted";
  return null;
}

const popcount = (n: number) => {
  let c = 0;
  for (let v = n; v; v &= v - 1) c++;
  return c;
};

/** A closed order whose unit is still out after this long lost its release (the expiry worker returns it within a pass). */
const RELEASE_GRACE_MS = 10_000;
/** A row accepted this close to a Redis snapshot may be newer than it (the clocks are one, the reads are not). */
const SNAPSHOT_MARGIN_MS = 1000;

const slotKey = (userId: string, slot: number) => `${userId}\n${slot}`;

type OrderRow = {
  id: string;
  userId: string;
  slot: number;
  status: string;
  createdAt: Date;
  closedAt: Date | null;
  releasedAt: Date | null;
};

/** What one look at a sale sees: Redis as of one instant, then the writer's lag, then MySQL. */
interface Look {
  snap: SaleSnapshot;
  lag: number | null;
  rows: OrderRow[];
  loaded: boolean;
  blocked: boolean;
  live: OrderRow[];
  /** Closed orders whose unit is not back yet, and those of them past the release grace. */
  owed: OrderRow[];
  owedOverdue: OrderRow[];
  /** Handoff records of orders MySQL does not have yet, and those of them the relay should have sent by now. */
  pendingHandoff: OrderMessage[];
  overdueHandoff: OrderMessage[];
  liveSlots: number;
  /** remaining + live slots - total, from one snapshot: exactly 0 unless Redis is corrupt. */
  drift: number | null;
  /** Live rows accepted before the snapshot whose buyer slot Redis does not hold (Redis lost data). */
  missingBuyers: Set<string>;
  /** Buyer slots Redis holds that no order accounts for: no row, no handoff record, the writer caught up. */
  orphans: Set<string>;
}

const intersect = <T>(a: Set<T>, b: Set<T>) => new Set([...a].filter((x) => b.has(x)));

/**
 * Compares a sale across Redis (stock, buyers, handoff records), Kafka (the writer's lag) and
 * MySQL (orders by status), repairs what is safe, and recomputes Redis from MySQL when Redis
 * lost the sale's state. It never releases stock that might still be sold: a reservation that
 * could still be on its way to MySQL is left alone.
 *
 * It never cries wolf while a crowd buys: Redis is read in one transaction (a snapshot), before
 * the writer's lag and the MySQL rows, so "Redis has it, MySQL does not" only counts for what the
 * writer has surely stored, and "MySQL has it, Redis does not" only for rows older than the
 * snapshot. Anything that still looks wrong is looked at again `confirmAfterMs` later, and only
 * what both looks show is reported (needs_attention) or acted on (a recompute).
 */
export function createReconciler(deps: {
  services: Services;
  store: SaleStore;
  kafkaAdmin: () => Promise<Admin>;
  /** Pause before the second look at a sale whose first look found something wrong. Default 1 s. */
  confirmAfterMs?: number;
}) {
  const { services, store } = deps;
  const { db } = services.database;
  const { redis, config } = services;
  const log = services.logger.child({ component: "reconcile" });
  const confirmAfterMs = deps.confirmAfterMs ?? 1000;

  const homes = createStockHomes({ db, redis, prefix: config.REDIS_KEY_PREFIX });

  /**
   * A report when the sale's stock is not at this instance's home (see stock-home.ts): such a
   * sale is never rebuilt, reopened or sold here. A sale with no home yet is adopted when this
   * Redis holds it (preloaded before homes were recorded). Undefined: the sale is at home here.
   */
  async function notAtHome(sale: typeof sales.$inferSelect): Promise<ReconcileReport | undefined> {
    let home = recordedHome(sale);
    const loadedHere = await store.isLoaded(sale.id);
    if (!home && loadedHere) home = (await homes.claim(sale.id)).home;
    const self = await homes.here();
    if (home && sameHome(home, self)) return undefined;
    const report: ReconcileReport = {
      saleId: sale.id,
      state: home ? "elsewhere" : "no_home",
      totalStock: sale.totalStock,
      redis: { loaded: loadedHere, blocked: false, remaining: null, liveSlots: 0, pendingHandoff: 0, released: 0 },
      mysql: { pendingPayment: 0, paid: 0, closed: 0, refundRequired: 0, releaseOwed: 0 },
      kafka: { writerLag: null },
      inTransit: 0,
      repairs: [],
      problems: [
        home
          ? `the sale's stock lives in ${describeHome(home)}, not here (${describeHome(self)}): reconcile it there, or move its home (POST /admin/sales/:id/move-stock-home)`
          : "no stock home recorded and this Redis does not hold the sale: preload it on the instance that should sell it",
      ],
      reopened: false,
      stockHome: home,
    };
    if (loadedHere) {
      // A pool of it in this Redis (another home's sale) must not sell: blocked until an admin decides.
      await store.block(sale.id);
      report.redis.blocked = true;
      report.problems.push("this Redis also holds a pool of the sale: blocked here so that only its home sells it");
      log.error({ saleId: sale.id, stockHome: home, thisInstance: self }, "a sale homed elsewhere is loaded in this Redis: blocked here");
    }
    return report;
  }

  async function writerLag(): Promise<number | null> {
    try {
      return await consumerLag(await deps.kafkaAdmin(), config.ORDER_WRITER_GROUP_ID, services.topics.orders);
    } catch (err) {
      log.warn({ err }, "cannot read the order writer's lag from Kafka");
      return null;
    }
  }

  async function look(saleId: string, totalStock: number): Promise<Look> {
    // The order matters (see createReconciler): Redis, then Kafka, then MySQL.
    const snap = await store.snapshot(saleId);
    const lag = await writerLag();
    const rows: OrderRow[] = await db
      .select({
        id: orders.id,
        userId: orders.userId,
        slot: orders.slot,
        status: orders.status,
        createdAt: orders.createdAt,
        closedAt: orders.closedAt,
        releasedAt: orders.releasedAt,
      })
      .from(orders)
      .where(eq(orders.saleId, saleId));
    const { buyers, handoff, loaded } = snap;
    const live = rows.filter((r) => r.status === "pending_payment" || r.status === "paid");
    const owed = rows.filter((r) => r.closedAt !== null && r.releasedAt === null);
    const now = Date.now();
    const owedOverdue = owed.filter((r) => r.closedAt!.getTime() < now - RELEASE_GRACE_MS);
    const inMysql = new Set(rows.map((r) => r.id));
    const pendingHandoff = Object.entries(handoff).flatMap(([id, raw]) => {
      const parsed = orderMessageSchema.safeParse(JSON.parse(raw));
      return parsed.success && !inMysql.has(id) ? [parsed.data] : [];
    });
    const overdueHandoff = pendingHandoff.filter((m) => m.acceptedAt + store.handoffGraceMs <= snap.at);
    const liveSlots = Object.values(buyers).reduce((s, m) => s + popcount(Number(m)), 0);
    const held = (userId: string, slot: number) => (Number(buyers[userId] ?? 0) & (1 << (slot - 1))) !== 0;
    const missingBuyers = new Set(
      live.filter((r) => r.createdAt.getTime() < snap.at - SNAPSHOT_MARGIN_MS && !held(r.userId, r.slot)).map((r) => r.id),
    );
    const orphans = new Set<string>();
    if (lag === 0 && loaded) {
      // A slot is accounted for by a live row, a handoff record, or a closed order whose unit
      // was still out at the snapshot (owed, or returned after it).
      const accounted = new Set<string>();
      for (const r of rows) {
        const recentRelease = r.releasedAt === null || r.releasedAt.getTime() >= snap.at - SNAPSHOT_MARGIN_MS;
        if (r.status === "pending_payment" || r.status === "paid" || (r.closedAt !== null && recentRelease))
          accounted.add(slotKey(r.userId, r.slot));
      }
      for (const m of Object.values(handoff)) {
        const parsed = orderMessageSchema.safeParse(JSON.parse(m));
        if (parsed.success) accounted.add(slotKey(parsed.data.userId, parsed.data.slot));
      }
      for (const [userId, mask] of Object.entries(buyers)) {
        for (let bits = Number(mask), slot = 1; bits; bits >>= 1, slot++) {
          if (bits & 1 && !accounted.has(slotKey(userId, slot))) orphans.add(slotKey(userId, slot));
        }
      }
    }
    return {
      snap,
      lag,
      rows,
      loaded,
      blocked: snap.blocked,
      live,
      owed,
      owedOverdue,
      pendingHandoff,
      overdueHandoff,
      liveSlots,
      drift: loaded ? (snap.stock ?? 0) + liveSlots - totalStock : null,
      missingBuyers,
      orphans,
    };
  }

  const suspicious = (l: Look) => l.missingBuyers.size > 0 || (l.drift !== null && l.drift !== 0) || l.orphans.size > 0;

  /** One reconcile of a sale, counted by its outcome (seckill_reconcile_runs_total{state}: the drift alert reads it). */
  async function reconcile(saleId: string): Promise<ReconcileReport | null> {
    const report = await compare(saleId);
    if (report) services.metrics.reconcileRuns.inc({ state: report.state });
    return report;
  }

  async function compare(saleId: string): Promise<ReconcileReport | null> {
    const [sale] = await db.select().from(sales).where(eq(sales.id, saleId)).limit(1);
    if (!sale) return null;
    const away = await notAtHome(sale);
    if (away) return away;
    let cur = await look(saleId, sale.totalStock);
    // Second look: only what persists counts (a figure read mid-crowd, another instance's repair).
    let missingBuyers = cur.missingBuyers;
    let drift = cur.drift;
    let orphans = cur.orphans;
    if (suspicious(cur)) {
      await new Promise((r) => setTimeout(r, confirmAfterMs));
      const again = await look(saleId, sale.totalStock);
      missingBuyers = intersect(missingBuyers, again.missingBuyers);
      drift = drift !== 0 && again.drift !== 0 ? again.drift : 0;
      orphans = intersect(orphans, again.orphans);
      cur = again;
    }

    const count = (s: string) => cur.rows.filter((r) => r.status === s).length;
    const report: ReconcileReport = {
      saleId,
      state: "consistent",
      totalStock: sale.totalStock,
      redis: {
        loaded: cur.loaded,
        blocked: cur.blocked,
        remaining: cur.snap.stock,
        liveSlots: cur.liveSlots,
        pendingHandoff: Object.keys(cur.snap.handoff).length,
        released: cur.snap.released,
      },
      mysql: {
        pendingPayment: count("pending_payment"),
        paid: count("paid"),
        closed: count("closed"),
        refundRequired: count("refund_required"),
        releaseOwed: cur.owed.length,
      },
      kafka: { writerLag: cur.lag },
      inTransit: Math.max(0, cur.liveSlots - cur.live.length),
      repairs: [],
      problems: [],
      reopened: false,
    };

    // Redis lost the sale (flushed, or restarted and blocked by the guard), or lost buyers MySQL
    // has: rebuild it. Otherwise only the safe repairs below.
    const started = Date.now() >= sale.startsAt.getTime();
    const lost = !cur.loaded && (cur.rows.length > 0 || started);
    if (lost || cur.blocked || (cur.loaded && missingBuyers.size > 0)) {
      if (!cur.blocked) {
        // Every bucket still selling closes (on a cluster, a shard's loss leaves the others loaded).
        await store.block(saleId);
        // Purchases may have landed since the look: look again now that none can.
        cur = await look(saleId, sale.totalStock);
      }
      const { lag, rows, live, owed, pendingHandoff } = cur;
      if (lag !== 0) {
        report.state = "waiting_for_writer";
        report.problems.push(
          lag === null
            ? "Kafka's view of the order writer is unavailable, so orders may still be in flight: the sale stays closed"
            : `the order writer still has ${lag} message(s) to persist: the sale stays closed until it has (run reconcile again)`,
        );
        return report;
      }
      const liveAll = [
        ...live.map((r) => ({ id: r.id, userId: r.userId, slot: r.slot })),
        ...pendingHandoff.map((m) => ({ id: m.orderId, userId: m.userId, slot: m.slot })),
      ];
      const remaining = sale.totalStock - liveAll.length;
      if (remaining < 0)
        report.problems.push(
          `more live orders (${liveAll.length}) than stock (${sale.totalStock}): oversold by ${-remaining}; stock set to 0`,
        );
      const closed = rows.filter((r) => r.closedAt !== null).map((r) => ({ id: r.id, userId: r.userId, slot: r.slot, closed: true }));
      await store.rebuild(saleId, {
        remaining: Math.max(0, remaining),
        orders: [...liveAll.map((o) => ({ ...o, closed: false })), ...closed],
        sale,
      });
      // The recompute counted every closed order as returned.
      if (owed.length)
        await db
          .update(orders)
          .set({ releasedAt: sql`NOW(3)` })
          .where(
            inArray(
              orders.id,
              owed.map((o) => o.id),
            ),
          );
      await store.announce(saleId, remaining <= 0);
      report.repairs.push(
        `recomputed Redis from MySQL: ${live.length} live order(s) + ${pendingHandoff.length} pending handoff(s) -> remaining ${Math.max(0, remaining)}`,
      );
      report.state = report.problems.length ? "needs_attention" : "recomputed";
      report.reopened = true;
      report.redis = { ...report.redis, loaded: true, blocked: false, remaining: Math.max(0, remaining), liveSlots: liveAll.length };
      report.inTransit = pendingHandoff.length;
      log.warn({ saleId, remaining, live: live.length, pendingHandoff: pendingHandoff.length }, "sale recomputed from MySQL and reopened");
      return report;
    }

    if (!cur.loaded) return report; // not preloaded yet, nothing sold: nothing to compare

    // Safe repair 0: stock moves between buckets a crash left half done are finished.
    const moved = await store.finishMoves(saleId);
    if (moved) report.repairs.push(`finished ${moved} stock move(s) between buckets`);

    // Safe repair 1: closed orders whose unit did not go back within the release grace.
    const { released } = await returnStock(
      db,
      store,
      cur.owedOverdue.map((o) => ({ ...o, saleId })),
    );
    if (released) report.repairs.push(`returned the stock of ${released} closed order(s) whose release was lost`);

    // Safe repair 2: handoff records the relay should have sent by now: make them due at once.
    if (cur.overdueHandoff.length) {
      await store.expediteHandoffs(
        saleId,
        cur.overdueHandoff.map((m) => ({ orderId: m.orderId, userId: m.userId })),
      );
      report.repairs.push(`made ${cur.overdueHandoff.length} overdue handoff(s) due now: the API relays republish them to Kafka`);
    }

    // A unit just returned is neither live nor in transit any more.
    if (report.redis.remaining !== null) report.redis.remaining += released;
    report.redis.liveSlots -= released;
    report.inTransit = Math.max(0, report.redis.liveSlots - cur.live.length);
    if (drift !== null && drift !== 0) report.problems.push(`Redis disagrees with itself: remaining + live slots - total = ${drift}`);
    if (orphans.size > 0) {
      const sample = [...orphans].slice(0, 5).map((o) => o.replace("\n", " slot "));
      report.problems.push(
        `${orphans.size} reservation(s) hold stock but never became an order row (e.g. user ${sample.join(", user ")}; check seckill.orders.dlq); not released automatically`,
      );
    }
    report.state = report.problems.length ? "needs_attention" : report.repairs.length ? "repaired" : "consistent";
    if (report.state !== "consistent")
      log.warn({ saleId, state: report.state, repairs: report.repairs, problems: report.problems }, "reconcile");
    return report;
  }

  /** The cheap figures of a sale (two Redis reads, one aggregate query): see fullPassReason. */
  async function quickLook(saleId: string): Promise<QuickLook | null> {
    const [sale] = await db
      .select({
        totalStock: sales.totalStock,
        startsAt: sales.startsAt,
        stockHomeRedis: sales.stockHomeRedis,
        stockHomePrefix: sales.stockHomePrefix,
      })
      .from(sales)
      .where(eq(sales.id, saleId))
      .limit(1);
    if (!sale) return null;
    // Another home's sale: nothing to look at here (the full pass reports it).
    const home = recordedHome(sale);
    if (home && !sameHome(home, await homes.here())) return null;
    // MySQL before Redis: rows only ever lag what Redis accepted, so "more rows than accepted" is real.
    const [counts] = await db
      .select({
        rows: sql<number>`COUNT(*)`,
        owed: sql<number>`COALESCE(SUM(${orders.closedAt} IS NOT NULL AND ${orders.releasedAt} IS NULL), 0)`,
      })
      .from(orders)
      .where(eq(orders.saleId, saleId));
    const { loaded, blocked, accepted, released, stock, movesInFlight } = await store.counters(saleId);
    return {
      loaded,
      blocked,
      started: Date.now() >= sale.startsAt.getTime(),
      totalStock: sale.totalStock,
      remaining: stock,
      accepted,
      released,
      movesInFlight,
      rows: Number(counts.rows),
      owed: Number(counts.owed),
    };
  }

  return { reconcile, writerLag, quickLook };
}

export type Reconciler = ReturnType<typeof createReconciler>;
