/** The MySQL error number of an error from mysql2, also when drizzle wrapped it. */
export function sqlErrno(err: unknown): number | undefined {
  for (let e = err as { errno?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.errno === "number" && e.errno > 1000) return e.errno;
  }
  return undefined;
}

/** Duplicate key: the only error that means "already done". */
export const ER_DUP_ENTRY = 1062;

/** Server errors that say nothing about the rows: wait and retry (lock wait, deadlock, too many connections, shutdown, gone away, lost, read-only). */
const TRANSIENT_ERRNOS = new Set([1205, 1213, 1040, 1053, 1927, 2006, 2013, 1290, 1836]);

/**
 * A failure is transient when it is about the connection or the server's state (network errors
 * carry no SQL errno); any other SQL error is about the rows themselves, and so is an error
 * marked `transient: false`.
 */
export function isTransient(err: unknown): boolean {
  // An error of our own that knows it will fail again the same way says so.
  if ((err as { transient?: unknown } | undefined)?.transient === false) return false;
  const errno = sqlErrno(err);
  return errno === undefined || TRANSIENT_ERRNOS.has(errno);
}
