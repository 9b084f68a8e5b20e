/**
 * Buyers the API recently answered 409 already_purchased, per sale, so the same buyer pressing
 * the button again is answered from the gateway's memory instead of costing a Redis round trip
 * for the limiter and another for the reserve script. Entries live `ttlMs` (default 10 s): an
 * order that closes unpaid gives the buyer the right to buy again, and within at most that long
 * the gateway asks the API again. Bounded: past `maxEntries` the oldest are dropped (a dropped
 * entry only costs a round trip), so a million distinct buyers cannot grow it.
 */
export function createRecentHolders(opts: { ttlMs?: number; maxEntries?: number; now?: () => number } = {}) {
  const ttlMs = opts.ttlMs ?? 10_000;
  const maxEntries = opts.maxEntries ?? 100_000;
  const now = opts.now ?? Date.now;
  // Insertion order is expiry order (every entry gets the same TTL), so the oldest is first.
  const until = new Map<string, number>();
  const key = (saleId: string, userId: string) => `${saleId}\u0000${userId}`;

  return {
    holds(saleId: string, userId: string): boolean {
      const k = key(saleId, userId);
      const t = until.get(k);
      if (t === undefined) return false;
      if (t > now()) return true;
      until.delete(k);
      return false;
    },
    remember(saleId: string, userId: string): void {
      const k = key(saleId, userId);
      until.delete(k); // re-inserted at the end: order stays by expiry
      if (until.size >= maxEntries) until.delete(until.keys().next().value as string);
      until.set(k, now() + ttlMs);
    },
    get size() {
      return until.size;
    },
  };
}

export type RecentHolders = ReturnType<typeof createRecentHolders>;
