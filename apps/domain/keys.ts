/**
 * Redis key names. Every key of one sale shares the hash tag `{sale:ID}`, so the scripts that
 * touch several of them run unchanged on Redis Cluster. Cross-sale keys have no tag.
 */
export function saleKeys(prefix: string, saleId: string) {
  const base = `${prefix}{sale:${saleId}}`;
  return {
    meta: `${base}:meta`,
    stock: `${base}:stock`,
    buyers: `${base}:buyers`,
    handoff: `${base}:handoff`,
    due: `${base}:handoff-due`,
    idem: `${base}:idem`,
    released: `${base}:released`,
    /** Waiting room: zset of waiting users (score: shuffle rank < 1 before the start, 1 + arrival after). */
    waiting: `${base}:q:waiting`,
    /** Waiting room: zset user -> pass expiry (ms) of admitted users still holding a place. */
    admitted: `${base}:q:admitted`,
    /** Waiting room: hash user -> pass expiry (ms) of every admission, for status reads. */
    admissions: `${base}:q:admissions`,
    /** Waiting room and passes: counters, inlet, admission credit and measured rate. */
    admission: `${base}:q:meta`,
    /** A solved proof-of-work challenge, kept until it would have expired anyway. */
    usedChallenge: (challengeId: string) => `${base}:pow:${challengeId}`,
  };
}
export type SaleKeys = ReturnType<typeof saleKeys>;

/** KEYS of lua/reserve-6.lua, in its order. */
export function reserveKeys(k: SaleKeys): string[] {
  return [k.meta, k.stock, k.buyers, k.handoff, k.due, k.idem];
}

export function globalKeys(prefix: string) {
  return {
    /** Sales that are loaded in Redis; the handoff relay walks these. */
    activeSales: `${prefix}sales:active`,
    /** Pub/sub: a sale id is published when its stock reaches zero. */
    soldOutChannel: `${prefix}events:sold-out`,
    /** Pub/sub: a sale id is published when stock comes back (an order closed). */
    restockChannel: `${prefix}events:restock`,
    /** An accepted order, readable by id while it is still on its way to MySQL. */
    order: (orderId: string) => `${prefix}order:${orderId}`,
    /** Shared (second-level) cache of a sale's static info. */
    saleInfo: (saleId: string) => `${prefix}cache:sale:${saleId}`,
    rateLimit: `${prefix}rl`,
    /** Sales with a waiting room that has members; every API's admitter walks these. */
    queueSales: `${prefix}sales:queued`,
  };
}
export type GlobalKeys = ReturnType<typeof globalKeys>;
