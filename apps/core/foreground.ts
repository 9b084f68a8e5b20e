/**
 * Purchases in flight in this process, so background work that shares its event loop steps
 * aside while buyers wait.
 *
 * In one process (`npm start` with HTTP_WORKERS=1) the order writer, the order-events relay, the
 * loyalty ledger and payments run on the same event loop as the purchase path, and each accepted
 * order costs them about as much CPU again as its purchase did (`npm run bench:profile accept`).
 * Run during a crowd's first second, that work sits between a buyer's request and its answer.
 * Orders lose nothing by waiting: an accepted order is in Redis and Kafka before its 202.
 *
 * So each background step first calls `yieldTo()`. With no purchase in flight (any quiet moment,
 * a sold-out flood answered from memory, a process without an HTTP edge) it returns at once.
 * Otherwise a hold begins: background steps wait until no purchase is in flight, for at most
 * `maxWaitMs` from the hold's start. After a hold, the next twice as long as it lasted are free
 * (`2 × maxWaitMs` after one that ran to its limit): background work runs whatever the load, so
 * under a sustained load it gets at least two thirds of the time it asks for and persistence
 * keeps up, also when the load has a short lull just before each hold's limit (which ends the
 * hold early); only a burst's first moments are given to buyers alone.
 */
export interface Foreground {
  /** A purchase started (the gateway's route, after its cheap refusals). */
  enter(): void;
  /** That purchase answered. */
  leave(): void;
  /** Purchases in flight now. */
  readonly inFlight: number;
  /** Resolves once no purchase is in flight, or when the current hold ends (see above); at once when holds are off. */
  yieldTo(): Promise<void>;
}

/** How often a waiting background step looks again. */
const POLL_MS = 5;

/**
 * `maxWaitMs`: BACKGROUND_YIELD_MS, the longest one hold lasts (0: background never waits).
 * `now`: a clock in ms (tests).
 */
export function createForeground(maxWaitMs: number, now: () => number = () => performance.now()): Foreground {
  let inFlight = 0;
  /** The current hold's end; background runs freely from there until `freeUntil`. */
  let holdStart = Number.NEGATIVE_INFINITY;
  let holdUntil = Number.NEGATIVE_INFINITY;
  let freeUntil = Number.NEGATIVE_INFINITY;
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
    yieldTo() {
      if (inFlight === 0 || maxWaitMs <= 0) return Promise.resolve();
      const t = now();
      if (t >= holdUntil) {
        if (t < freeUntil) return Promise.resolve();
        holdStart = t;
        holdUntil = t + maxWaitMs;
        freeUntil = holdUntil + 2 * maxWaitMs;
      }
      return new Promise((resolve) => {
        const look = () => {
          if (inFlight === 0) {
            // The crowd answered: the hold is over, followed by twice its length free (a short
            // hold, a short free time: the next burst soon gets a hold of its own).
            const ended = now();
            if (ended < holdUntil) {
              freeUntil = ended + 2 * (ended - holdStart);
              holdUntil = ended;
            }
            resolve();
          } else if (now() >= holdUntil) resolve();
          else setTimeout(look, POLL_MS);
        };
        setTimeout(look, POLL_MS);
      });
    },
  };
}
