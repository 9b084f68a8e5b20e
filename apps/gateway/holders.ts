/**
 * Buyers the API recently answered 409 already_purchased, per sale, so the same buyer pressing
 * the button again is answered from the gateway's memory instead of costing a Redis round trip
 * for the limiter and another for the reserve script. An order that closes unpaid gives its
 * buyer the right to buy again: the restock broadcast that follows calls forget(saleId), which
 * drops the sale's entries at once; entries also live only `ttlMs` (default 10 s), which covers
 * a broadcast missed while the subscriber reconnected. Bounded: past `maxEntries` the oldest are
 * dropped (a dropped entry only costs a round trip), so a million distinct buyers cannot grow it.
 */
export function createRecentHolders(opts: { ttlMs?: number; maxEntries?: number; now?: () => number } = {}) {
  const ttlMs = opts.ttlMs ?? 10_000;
  const maxEntries = opts.maxEntries ?? 100_000;
  const now = opts.now ?? Date.now;
  // Insertion order is expiry order (every entry gets the same TTL), so the oldest is first.
  const entries = new Map<string, { until: number; seq: number }>();
  // forget(saleId) records the sequence number reached; entries of that sale at or below it are void.
  let seq = 0;
  const forgotten = new Map<string, number>();
  const key = (saleId: string, userId: string) => `${saleId}\u0000${userId}`;

  return {
    holds(saleId: string, userId: string): boolean {
      const k = key(saleId, userId);
      const e = entries.get(k);
      if (e === undefined) return false;
      if (e.until > now() && e.seq > (forgotten.get(saleId) ?? 0)) return true;
      entries.delete(k);
      return false;
    },
    remember(saleId: string, userId: string): void {
      const k = key(saleId, userId);
      entries.delete(k); // re-inserted at the end: order stays by expiry
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
      entries.set(k, { until: now() + ttlMs, seq: ++seq });
    },
    /** A unit of the sale came back (restock): its buyers are asked again. O(1); void entries go lazily. */
    forget(saleId: string): void {
      forgotten.delete(saleId); // re-inserted at the end, so the bound below drops the stalest sale
      if (forgotten.size >= maxEntries) forgotten.delete(forgotten.keys().next().value as string);
      forgotten.set(saleId, seq);
    },
    get size() {
      return entries.size;
    },
  };
}

export type RecentHolders = ReturnType<typeof createRecentHolders>;
