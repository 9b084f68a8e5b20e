import { eq } from "drizzle-orm";
import type { Db } from "../core/db/client.js";
import { type Sale, sales } from "../core/db/schema/index.js";
import type { SaleStore } from "./sale-store.js";

/** A sale's static description (what does not change while it runs). */
export interface SaleInfo {
  id: string;
  title: string;
  priceCents: number;
  totalStock: number;
  startsAt: number;
  endsAt: number;
  perUserLimit: number;
  paymentTimeoutSeconds: number;
  /** open: anyone buys; pass: a proof-of-work pass is needed; queue: a waiting-room pass is needed. */
  admission: AdmissionMode;
  powDifficultyBits: number;
  inletPerSecond: number;
  admissionWindowSeconds: number;
  /** Hex seed ordering the pre-start queue (queue sales); secret until the start. */
  queueSeed: string | null;
  /** Redis buckets the stock is split over (1-64); absent in a copy cached by an older version: 1. */
  stockBuckets?: number;
}

export type AdmissionMode = "open" | "pass" | "queue";

/** What a sale cached by an older version lacks: it predates admission, so it is open. */
const ADMISSION_DEFAULTS = {
  admission: "open",
  powDifficultyBits: 16,
  inletPerSecond: 50,
  admissionWindowSeconds: 120,
  queueSeed: null,
} as const;

export function toSaleInfo(s: Sale): SaleInfo {
  return {
    id: s.id,
    title: s.title,
    priceCents: s.priceCents,
    totalStock: s.totalStock,
    startsAt: s.startsAt.getTime(),
    endsAt: s.endsAt.getTime(),
    perUserLimit: s.perUserLimit,
    paymentTimeoutSeconds: s.paymentTimeoutSeconds,
    admission: s.admission,
    powDifficultyBits: s.powDifficultyBits,
    inletPerSecond: s.inletPerSecond,
    admissionWindowSeconds: s.admissionWindowSeconds,
    queueSeed: s.queueSeed,
    stockBuckets: s.stockBuckets,
  };
}

/** The shared level's TTL by default (jittered ±20 %). */
const SHARED_TTL_MS = 30_000;

const jitter = (ms: number) => Math.round(ms * (0.8 + Math.random() * 0.4));

/**
 * Writes a sale just changed by an admin into the shared level, over whatever is there. A reader
 * fills that level only when it is empty (`saleInfoCache.set` is NX), so a reload that read MySQL
 * before the change and writes after it leaves this value alone; deleting the entry instead would
 * let that reload put the old sale back for the shared TTL (30 s), broadcast or not.
 */
export async function shareChangedSale(store: Pick<SaleStore, "saleInfoCache">, sale: Sale): Promise<void> {
  await store.saleInfoCache.replace(sale.id, JSON.stringify(toSaleInfo(sale)), jitter(SHARED_TTL_MS));
}

interface Entry {
  value: SaleInfo | null;
  expiresAt: number;
}

export interface SaleCacheOptions {
  /** In-process TTL (jittered ±20 %). */
  localTtlMs?: number;
  /** Redis TTL (jittered ±20 %). */
  sharedTtlMs?: number;
  /** TTL of "no such sale", in both levels: short, so a sale created a moment ago shows up soon. */
  negativeTtlMs?: number;
  /** Bound on in-process entries: random ids from a crowd must not grow memory without limit. */
  maxEntries?: number;
  now?: () => number;
}

/**
 * Sale info from a two-level cache: in-process, then Redis, then MySQL. Concurrent misses for
 * one sale share a single load (request coalescing), TTLs are jittered so entries do not expire
 * together, and unknown ids are cached briefly too, so a crowd refreshing a page cannot
 * stampede MySQL. When a reload fails, the expired entry is served (stale if error).
 *
 * An admin's change to a sale reaches this copy in two ways: the sale-changed broadcast calls
 * forget() at once (best effort: a message missed while the subscriber reconnects is not
 * replayed), and the in-process TTL (5 s ±20 %, so at most 6 s) bounds the staleness when the
 * broadcast is missed. Before it broadcasts, the admin writes the changed sale into the Redis
 * level (shareChangedSale), which a reload only fills when empty (NX), so a reload that read
 * MySQL before the change cannot put the old sale back there.
 */
export function createSaleCache(
  deps: { db: Db; store: { saleInfoCache: Pick<SaleStore["saleInfoCache"], "get" | "set" | "del"> } },
  opts: SaleCacheOptions = {},
) {
  const localTtl = opts.localTtlMs ?? 5000;
  const sharedTtl = opts.sharedTtlMs ?? SHARED_TTL_MS;
  const negativeTtl = opts.negativeTtlMs ?? 1000;
  const maxEntries = opts.maxEntries ?? 10_000;
  const now = opts.now ?? Date.now;
  const local = new Map<string, Entry>();
  const loading = new Map<string, Promise<SaleInfo | null>>();
  let dbLoads = 0;

  function remember(id: string, value: SaleInfo | null) {
    if (!local.has(id) && local.size >= maxEntries) local.delete(local.keys().next().value as string);
    local.set(id, { value, expiresAt: now() + jitter(value ? localTtl : negativeTtl) });
  }

  async function load(id: string): Promise<SaleInfo | null> {
    const cached = await deps.store.saleInfoCache.get(id);
    if (cached !== null) {
      const parsed = JSON.parse(cached) as SaleInfo | null;
      return parsed && { ...ADMISSION_DEFAULTS, ...parsed };
    }
    dbLoads++;
    const [row] = await deps.db.select().from(sales).where(eq(sales.id, id)).limit(1);
    const value = row ? toSaleInfo(row) : null;
    await deps.store.saleInfoCache.set(id, JSON.stringify(value), jitter(value ? sharedTtl : negativeTtl));
    return value;
  }

  return {
    /** The sale, or null when no such sale exists. */
    get(id: string): Promise<SaleInfo | null> {
      const hit = local.get(id);
      if (hit && hit.expiresAt > now()) return Promise.resolve(hit.value);
      const inFlight = loading.get(id);
      if (inFlight) return inFlight;
      const pending: Promise<SaleInfo | null> = load(id)
        .then(
          (value) => {
            // Not when forget() came in meanwhile: this load may have read the sale before the change.
            if (loading.get(id) === pending) remember(id, value);
            return value;
          },
          (err) => {
            // Stale if error: while MySQL or Redis is away, the last known sale beats an error
            // on the purchase path (an admin's change reaches it once a reload succeeds).
            if (hit) return hit.value;
            throw err;
          },
        )
        .finally(() => {
          if (loading.get(id) === pending) loading.delete(id);
        });
      loading.set(id, pending);
      return pending;
    },
    /** The value in process memory only (no I/O): for the gateway's hot path. */
    peek(id: string): SaleInfo | null | undefined {
      const hit = local.get(id);
      return hit && hit.expiresAt > now() ? hit.value : undefined;
    },
    /**
     * Drops this process's copy of the sale (no I/O), so the next get() reads it again; a load
     * already in flight is not remembered. Called on the sale-changed broadcast (sale-changes.ts).
     */
    forget(id: string): void {
      local.delete(id);
      loading.delete(id);
    },
    /** Drops every copy in this process (after the broadcast's subscriber reconnected: it may have missed some). */
    forgetAll(): void {
      local.clear();
      loading.clear();
    },
    async invalidate(id: string): Promise<void> {
      local.delete(id);
      await deps.store.saleInfoCache.del(id);
    },
    /** How many times MySQL was asked (for tests and the stampede proof). */
    get dbLoads() {
      return dbLoads;
    },
  };
}

export type SaleCache = ReturnType<typeof createSaleCache>;
