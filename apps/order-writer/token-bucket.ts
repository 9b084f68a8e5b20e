/**
 * A token bucket for the writer's rows-per-second throttle. `reserve(n)` takes n tokens at once
 * and returns how long to wait before using them; the balance may go negative (a debt the
 * refill pays back), so a batch larger than the bucket still goes through and the long-run rate
 * stays exactly `ratePerSec`.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSec: number,
    readonly capacity: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (ratePerSec <= 0 || capacity <= 0) throw new Error("TokenBucket needs a positive rate and capacity");
    this.tokens = capacity;
    this.last = now();
  }

  /** Takes n tokens; returns the milliseconds to wait before acting on them (0 when available now). */
  reserve(n: number): number {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) * this.ratePerSec) / 1000);
    this.last = t;
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.ratePerSec;
  }

  async take(n: number): Promise<void> {
    const wait = this.reserve(n);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}
