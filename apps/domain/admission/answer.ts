import type { SaleInfo } from "../sale-cache.js";
import type { Passes } from "./pass.js";
import type { QueueState, RoomClock } from "./waiting-room.js";

/** The body of POST/GET /api/sales/:saleId/queue. */
export interface QueueAnswer {
  state: "waiting" | "admitted" | "sold_out";
  /** 1 = next in line; 0 once admitted. */
  position: number;
  estimatedWaitSeconds: number;
  pollAfterSeconds: number;
  pass?: string;
  passExpiresAt?: string;
}

/** Waiters this near the head keep polling every 5 s after a sell-out: a returned unit is theirs first. */
const SOLD_OUT_FRONT = 10;

/** The admissions per second the room measured, or null before its first admission tick. */
function measuredRate(clock: RoomClock, sale: SaleInfo, tauMs: number): number | null {
  if (clock.rate === null) return null;
  // The decaying counter starts at 0 when admissions start: divided by (1 - e^(-t/tau)) it is an
  // unbiased mean from the first second on (the bias correction of Kingma & Ba's Adam, 2015).
  const since = clock.now - sale.startsAt;
  return since > 0 ? clock.rate / (1 - Math.exp(-since / tauMs)) : null;
}

/**
 * Turns a place into the answer a client polls with. estimatedWaitSeconds = position / the
 * measured admission rate (before the first admission tick: / the inlet, plus the time to the
 * start); it is never more than the time left in the sale. pollAfterSeconds spreads the polls:
 * about a tenth of the wait, 1-5 s, so a crowd of n costs about n/3 requests a second at most.
 */
export function queueAnswer(
  q: Extract<QueueState, { state: "waiting" | "sold_out" | "admitted" }>,
  clock: RoomClock,
  sale: SaleInfo,
  passes: Passes,
  userId: string,
  tauMs: number,
): QueueAnswer {
  if (q.state === "admitted") {
    return {
      state: "admitted",
      position: 0,
      estimatedWaitSeconds: 0,
      pollAfterSeconds: 0,
      pass: passes.issue(sale.id, userId, q.passExpiresAt),
      passExpiresAt: new Date(q.passExpiresAt).toISOString(),
    };
  }
  // Sold out: the place is kept in case a unit comes back (an unpaid order closes). Returned units
  // go to the head, so only the first few need to keep asking often; the rest poll slowly.
  if (q.state === "sold_out") {
    return { state: "sold_out", position: q.position, estimatedWaitSeconds: 0, pollAfterSeconds: q.position <= SOLD_OUT_FRONT ? 5 : 30 };
  }
  const untilStart = Math.max(0, sale.startsAt - clock.now) / 1000;
  const inlet = clock.inlet ?? sale.inletPerSecond;
  const rate = untilStart > 0 ? inlet : (measuredRate(clock, sale, tauMs) ?? inlet);
  const left = Math.max(0, (sale.endsAt - clock.now) / 1000);
  const eta = Math.min(left, untilStart + q.position / Math.max(rate, 1e-3));
  const poll = untilStart > 0 ? Math.min(5, Math.max(1, untilStart / 2)) : Math.min(5, Math.max(1, eta / 10));
  return { state: "waiting", position: q.position, estimatedWaitSeconds: Math.ceil(eta), pollAfterSeconds: Math.ceil(poll) };
}
