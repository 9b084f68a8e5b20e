/**
 * At most one log line per `intervalMs` for an event that can repeat thousands of times a
 * second (a forged callback flood): the first occurrence is logged at once, the rest of the
 * interval only counted, and the next line says how many were left out (`suppressed`). Count
 * every occurrence in a metric beside it; this only spares the log.
 */
export function throttledLog(intervalMs: number, now: () => number = Date.now) {
  let last = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (write: (suppressed: number) => void): void => {
    const t = now();
    if (t - last < intervalMs) {
      suppressed++;
      return;
    }
    last = t;
    const n = suppressed;
    suppressed = 0;
    write(n);
  };
}
