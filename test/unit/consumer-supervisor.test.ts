import { EventEmitter } from "node:events";
import type { Consumer, EachBatchPayload } from "kafkajs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { keepingMembership, supervisedConsumer } from "../../apps/core/kafka-consumer.js";
import { createLogger } from "../../apps/core/logger.js";
import { deferred } from "../helpers/wait.js";

/**
 * The supervisor's timer logic, with fake timers and a stand-in consumer that only emits the
 * kafkajs events the supervisor listens to (joins, commits). The real-Kafka side is in
 * test/integration/writer-eviction.test.ts.
 */
const EVENTS = { GROUP_JOIN: "group_join", COMMIT_OFFSETS: "commit_offsets", CRASH: "crash" };

function fakeConsumer(hangOnDisconnect = false) {
  const emitter = new EventEmitter();
  const c = {
    events: EVENTS,
    on: (name: string, fn: (e: unknown) => void) => emitter.on(name, fn),
    connect: vi.fn(async () => {}),
    disconnect: vi.fn(() => (hangOnDisconnect ? new Promise<void>(() => {}) : Promise.resolve())),
    join: (partitions: number[]) => emitter.emit(EVENTS.GROUP_JOIN, { payload: { memberAssignment: { orders: partitions } } }),
    commit: () => emitter.emit(EVENTS.COMMIT_OFFSETS, { payload: {} }),
  };
  return c;
}
type Fake = ReturnType<typeof fakeConsumer>;

function supervise(opts: { lag: () => number; blocked?: () => boolean; hangOnDisconnect?: boolean }) {
  const made: Fake[] = [];
  const lagAsked: (readonly number[])[] = [];
  const reasons: string[] = [];
  const s = supervisedConsumer({
    name: "test",
    topic: "orders",
    logger: createLogger({ level: "silent" }),
    create: () => {
      const c = fakeConsumer(opts.hangOnDisconnect && made.length === 0);
      made.push(c);
      return c as unknown as Consumer;
    },
    setup: async (c) => {
      (c as unknown as Fake).join([0, 2]);
    },
    watchdog: {
      stallAfterMs: 20_000,
      checkEveryMs: 1000,
      lag: async (partitions) => {
        lagAsked.push(partitions);
        return opts.lag();
      },
      blocked: async () => opts.blocked?.() ?? false,
    },
    disconnectTimeoutMs: 5000,
    onRestart: (reason) => reasons.push(reason),
  });
  return { s, made, lagAsked, reasons };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("supervised consumer watchdog", () => {
  it("recreates a consumer that commits nothing for the stall time while messages wait on its partitions", async () => {
    const { s, made, lagAsked, reasons } = supervise({ lag: () => 40 });
    await s.start();
    await vi.advanceTimersByTimeAsync(19_000);
    expect(made).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(made.length).toBe(2);
    expect(made[0].disconnect).toHaveBeenCalled();
    expect(lagAsked.at(-1)).toEqual([0, 2]); // only the partitions it was assigned
    expect(s.restarts()).toBe(1);
    expect(reasons).toEqual(["stall"]);
    await s.stop();
  });

  it("leaves a consumer alone while it commits, however much is waiting", async () => {
    const { s, made } = supervise({ lag: () => 10_000 });
    await s.start();
    for (let i = 0; i < 12; i++) {
      await vi.advanceTimersByTimeAsync(5000);
      made[0].commit();
    }
    expect(made).toHaveLength(1);
    await s.stop();
  });

  it("leaves a consumer alone while it reports progress inside one long batch", async () => {
    const { s, made } = supervise({ lag: () => 10_000 });
    await s.start();
    for (let i = 0; i < 12; i++) {
      await vi.advanceTimersByTimeAsync(5000);
      s.progressed();
    }
    expect(made).toHaveLength(1);
    await s.stop();
  });

  it("does not count time waiting on a sink that does not answer, nor idle time, as a stall", async () => {
    let blocked = true;
    let lag = 0;
    const { s, made } = supervise({ lag: () => lag, blocked: () => blocked });
    await s.start();
    await vi.advanceTimersByTimeAsync(60_000); // MySQL down for a minute: waiting is the job
    blocked = false;
    await vi.advanceTimersByTimeAsync(60_000); // then idle for a minute
    lag = 500; // messages arrive: the clock starts now, not a minute ago
    await vi.advanceTimersByTimeAsync(15_000);
    expect(made).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(made).toHaveLength(2);
    await s.stop();
  });

  it("messages arriving just as an idle consumer's clock passes the stall time are not a stall", async () => {
    let lag = 0;
    const { s, made } = supervise({ lag: () => lag });
    await s.start();
    await vi.advanceTimersByTimeAsync(19_500); // idle, nothing to do
    lag = 500; // a sale starts: its orders wait for the consumer's next fetch
    await vi.advanceTimersByTimeAsync(15_000);
    expect(made).toHaveLength(1); // was recreated at 20 s: idle since the start, and now a lag
    await vi.advanceTimersByTimeAsync(10_000); // still nothing consumed 20 s after they arrived: a stall
    expect(made).toHaveLength(2);
    await s.stop();
  });

  it("recreates the consumer even when the old one never finishes disconnecting (a batch stuck in a query)", async () => {
    const { s, made } = supervise({ lag: () => 7, hangOnDisconnect: true });
    await s.start();
    await vi.advanceTimersByTimeAsync(21_000 + 5000 + 1000);
    expect(made).toHaveLength(2);
    await s.stop();
  });
});

describe("keepingMembership", () => {
  function payload(heartbeat: () => Promise<void>) {
    return { isRunning: () => true, isStale: () => false, heartbeat } as unknown as EachBatchPayload;
  }

  it("heartbeats while a long handler runs, and tells it when the group has dropped it", async () => {
    let beats = 0;
    let evicted = false;
    const heartbeat = async () => {
      beats++;
      if (evicted) throw new Error("The coordinator is not aware of this member");
    };
    const release = deferred();
    let seen: EachBatchPayload | undefined;
    const running = keepingMembership(async (p) => {
      seen = p;
      await release.promise;
    }, 1000)(payload(heartbeat));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(beats).toBeGreaterThanOrEqual(9);
    expect(seen?.isRunning()).toBe(true);
    evicted = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(seen?.isRunning()).toBe(false);
    await expect(seen?.heartbeat()).rejects.toThrow(/left the consumer group/);
    const after = beats;
    await vi.advanceTimersByTimeAsync(5000);
    expect(beats).toBe(after); // no more heartbeats for a member that is gone
    release.resolve();
    await running;
  });
});
