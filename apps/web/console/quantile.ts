export interface Bucket {
  le: number | null;
  count: number;
}

/**
 * The q-quantile of a cumulative histogram, interpolated linearly inside its bucket, as
 * Prometheus's histogram_quantile does; the +Inf bucket answers the highest finite bound.
 * Null when there are no observations.
 */
export function histogramQuantile(q: number, buckets: Bucket[]): number | null {
  const total = buckets.at(-1)?.count ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (b.le === null) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket <= 0 ? b.le : prevLe + (b.le - prevLe) * ((rank - prevCount) / inBucket);
    }
    prevLe = b.le ?? prevLe;
    prevCount = b.count;
  }
  return prevLe;
}

/** Buckets of the observations made between two cumulative snapshots. */
export function bucketDelta(now: Bucket[], before: Bucket[] | undefined): Bucket[] {
  if (!before) return now;
  return now.map((b, i) => ({ le: b.le, count: b.count - (before[i]?.count ?? 0) }));
}
