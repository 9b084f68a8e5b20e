import calculateSlot from "cluster-key-slot";

/**
 * Redis key names. Every key of one stock bucket of a sale shares one hash tag (`{sale:ID}` for
 * the first bucket, so an unsplit sale keeps its historical keys), so the scripts that touch
 * several of them run unchanged on Redis Cluster. Cross-sale keys have no tag.
 */
export function saleKeys(prefix: string, saleId: string, tag = `sale:${saleId}`) {
  const base = `${prefix}{${tag}}`;
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
    /**
     * Waiting room of a split sale (stockBuckets > 1): the total remaining over every bucket, as
     * the last admission tick read it (lua/queue-admit-6.lua), for the status and join scripts.
     */
    queueStock: `${base}:q:stock`,
    /** Waiting room of a split sale: hash userId -> 1 of the users who bought with an admission (lua/queue-convert-3.lua). */
    queueBought: `${base}:q:bought`,
    /** A solved proof-of-work challenge, kept until it would have expired anyway. */
    usedChallenge: (challengeId: string) => `${base}:pow:${challengeId}`,
    /** Stock moves out of this bucket not yet received (bucket-take-3.lua). */
    moves: `${base}:moves`,
    /** Ids of moves this bucket received or a rebuild voided (bucket-give-3.lua). */
    movesIn: `${base}:moves-in`,
  };
}

const SLOTS = 16384;

/**
 * The hash tag of bucket `b` of `n`. Bucket 0 is `sale:ID`; bucket b > 0 is `sale:ID#b.k` with
 * the first k whose slot lies in the b-th n-th of the slot space counted from bucket 0's: the
 * buckets sit in evenly spaced slot ranges, so a cluster whose masters own equal slot ranges
 * (what `redis-cli --cluster create` makes) gets an even share of them, instead of the
 * clumping random slots give (8 random slots on 3 masters are 5/2/1 often enough).
 */
export function bucketTag(saleId: string, b: number, n: number): string {
  const first = `sale:${saleId}`;
  if (b === 0) return first;
  const start = Math.floor((calculateSlot(first) * n) / SLOTS);
  const want = (start + b) % n;
  for (let k = 0; ; k++) {
    const tag = `${first}#${b}.${k}`;
    if (Math.floor((calculateSlot(tag) * n) / SLOTS) === want) return tag;
  }
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
    /** Pub/sub: a sale id is published when an admin changed the sale's settings (sale-changes.ts). */
    saleChangedChannel: `${prefix}events:sale-changed`,
    /** An accepted order, readable by id while it is still on its way to MySQL. */
    order: (orderId: string) => `${prefix}order:${orderId}`,
    /** Shared (second-level) cache of a sale's static info. */
    saleInfo: (saleId: string) => `${prefix}cache:sale:${saleId}`,
    rateLimit: `${prefix}rl`,
    /** Sales with a waiting room that has members; every API's admitter walks these. */
    queueSales: `${prefix}sales:queued`,
    /**
     * The admin console's sessions (apps/admin/console-sessions.ts): `<this>:generation` and
     * `<this>:revoked:<nonce>`, under one hash tag so one MGET reads both on Redis Cluster.
     */
    adminSessions: `${prefix}{admin-sessions}`,
    /** Failed console sign-ins per client IP (rate-limiter-flexible owns those keys). */
    adminSignInLimit: `${prefix}admin-sign-in`,
  };
}
export type GlobalKeys = ReturnType<typeof globalKeys>;
