/**
 * Purchases in flight in this process, so background work that shares its event loop steps
 * aside while buyers wait.
 *
 * In one process (`npm start` with HTTP_WORKERS=1) the order writer, the order-events relay, the
 * loyalty ledger, payments and expiry run on the same event loop as the purchase path, and each
 * accepted order costs them about as much CPU again as its purchase did (`npm run bench:profile
 * accept`). Run during a crowd's first second, that work sits between a buyer's request and its
 * answer. Orders lose nothing by waiting: an accepted order is in Redis and Kafka before its 202.
 * So each background step first calls `yieldTo()`, which returns at once when no purchase is in
 * flight (any quiet moment, a sold-out flood answered from memory, a process without an HTTP
 * edge) and otherwise waits until none is, for at most `maxWaitMs`: a background batch is
 * delayed by at most that, never starved, however long the crowd lasts.
 */
export interface Foreground {
  /** A purchase started (the gateway's route, after its cheap refusals). */
  enter(): void;
  /** That purchase answered. */
  leave(): void;
  /** Purchases in flight now. */
  readonly inFlight: number;
  /** Resolves once no purchase is in flight, or after `maxWaitMs` (the configured bound by default; 0: at once). */
  yieldTo(maxWaitMs?: number): Promise<void>;
}

/** How often a waiting background step looks again. */
const POLL_MS = 5;

/** `maxWaitMs`: BACKGROUND_YIELD_MS, the longest a background step waits for buyers (0: never waits). */
export function createForeground(maxWaitMs: number): Foreground {
  let inFlight = 0;
  return {
    enter() {
      inFlight++;
    },
    leave() {
      inFlight--;
    },
    get inFlight() {
      return inFlight;
    },
    yieldTo(limitMs = maxWaitMs) {
      if (inFlight === 0 || limitMs <= 0) return Promise.resolve();
      const deadline = performance.now() + limitMs;
      return new Promise((resolve) => {
        const look = () => {
          if (inFlight === 0 || performance.now() >= deadline) resolve();
          else setTimeout(look, POLL_MS);
        };
        setTimeout(look, POLL_MS);
      });
    },
  };
}
