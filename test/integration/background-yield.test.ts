import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { eventually } from "../helpers/wait.js";

/**
 * Background work sharing the purchase path's process yields to purchases in flight
 * (apps/core/foreground.ts): the order writer holds a fetched batch while a purchase is in
 * flight and writes it once none is. The bound on that wait is covered with fake timers in
 * test/unit/foreground.test.ts.
 */
let p: TestPlatform;
beforeAll(async () => {
  // Only the writer consumes here (no lifecycle, no loyalty), so every wait seen below is its own.
  p = await startTestPlatform({ writer: true, env: { BACKGROUND_YIELD_MS: "10000" } });
  await p.writer!.ready();
});
afterAll(async () => {
  await p?.stop();
});

it("the writer holds accepted orders while a purchase is in flight, and writes every one once none is", async () => {
  const f = p.services.foreground;
  let waiting = 0;
  const yieldTo = f.yieldTo.bind(f);
  f.yieldTo = () => {
    waiting++;
    return yieldTo().finally(() => waiting--);
  };
  const saleId = await p.createSale({ stock: 20 });
  f.enter(); // a purchase that takes its time (a slow client, say)
  const answers = await Promise.all(Array.from({ length: 20 }, async (_, i) => (await p.buy(saleId, await p.token(`held-${i}`))).status));
  expect(answers.filter((s) => s === 202)).toHaveLength(20);
  await eventually("the writer fetched the orders and waits behind the purchase", () => waiting > 0);
  expect(await p.rows(saleId)).toBe(0);
  f.leave();
  await eventually("every accepted order is in MySQL", async () => (await p.rows(saleId)) === 20);
  expect(f.inFlight).toBe(0);
});
