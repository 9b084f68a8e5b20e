import { describe, expect, it } from "vitest";
import { parsePurchaseSeries } from "../../apps/admin/live.js";
import { bucketDelta, histogramQuantile } from "../../apps/web/console/quantile.js";
import { createServerClock, formatCountdown } from "../../apps/web/storefront/clock.js";

describe("the dashboard's p99 (histogram_quantile over cumulative buckets)", () => {
  const buckets = [
    { le: 0.001, count: 0 },
    { le: 0.005, count: 90 },
    { le: 0.01, count: 98 },
    { le: 0.05, count: 100 },
    { le: null, count: 100 },
  ];

  it("interpolates inside the bucket holding the rank, as Prometheus does", () => {
    // rank 99 is the 1st of the 2 observations in (0.01, 0.05]: halfway.
    expect(histogramQuantile(0.99, buckets)).toBeCloseTo(0.03, 10);
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.001 + 0.004 * (50 / 90), 10);
  });

  it("answers the highest finite bound when the rank falls in +Inf, and null without observations", () => {
    expect(
      histogramQuantile(0.99, [
        { le: 0.01, count: 1 },
        { le: null, count: 100 },
      ]),
    ).toBe(0.01);
    expect(
      histogramQuantile(0.99, [
        { le: 0.01, count: 0 },
        { le: null, count: 0 },
      ]),
    ).toBeNull();
  });

  it("takes the observations between two snapshots", () => {
    const before = buckets.map((b) => ({ ...b, count: Math.floor(b.count / 2) }));
    expect(bucketDelta(buckets, before).map((b) => b.count)).toEqual([0, 45, 49, 50, 50]);
  });
});

describe("reading the purchase series from Prometheus text", () => {
  const text = [
    "# HELP seckill_purchase_responses_total ...",
    'seckill_purchase_responses_total{sale="a",status="202"} 40',
    'seckill_purchase_responses_total{sale="a",status="410"} 60',
    'seckill_purchase_responses_total{sale="ab",status="202"} 7',
    'seckill_purchase_duration_seconds_bucket{le="0.01",sale="a"} 90',
    'seckill_purchase_duration_seconds_bucket{le="+Inf",sale="a"} 100',
    'seckill_purchase_duration_seconds_bucket{le="0.01",sale="a",worker="2"} 5',
  ].join("\n");

  it("keeps only the sale asked for (exact id) and sums series of several processes", () => {
    expect(parsePurchaseSeries(text, "a")).toEqual({
      responses: { "202": 40, "410": 60 },
      latencyBuckets: [
        { le: 0.01, count: 95 },
        { le: null, count: 100 },
      ],
    });
    expect(parsePurchaseSeries(text, "A").responses).toEqual({});
  });
});

describe("the storefront's server clock", () => {
  it("takes the offset from the fastest fresh read, corrected by half its round trip", () => {
    const clock = createServerClock();
    const local = Date.now();
    clock.sample(new Date(local + 10_000).toISOString(), 0, local - 400, local); // slow read
    clock.sample(new Date(local + 5_000).toISOString(), 0, local - 20, local); // fast read wins
    expect(clock.offsetMs).toBeCloseTo(5_010, 0);
    clock.sample(new Date(local + 9_000).toISOString(), 0, local - 300, local); // slower: ignored
    expect(clock.offsetMs).toBeCloseTo(5_010, 0);
    clock.sample(new Date(local + 9_000).toISOString(), 3, local - 1, local); // a cached answer: ignored once a fresh one exists
    expect(clock.offsetMs).toBeCloseTo(5_010, 0);
  });

  it("formats a countdown, rounding up to the next second", () => {
    expect(formatCountdown(4_001)).toBe("00:05");
    expect(formatCountdown(3_725_000)).toBe("1:02:05");
    expect(formatCountdown(-5)).toBe("00:00");
  });
});
