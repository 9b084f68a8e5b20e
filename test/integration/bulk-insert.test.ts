import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bulkInsert } from "../../apps/core/db/bulk-insert.js";
import { createDatabase, type Database } from "../../apps/core/db/client.js";
import { type NewOrder, orders } from "../../apps/core/db/schema/index.js";
import { newOrderId } from "../../apps/core/ids.js";
import { ordersInsert } from "../../apps/order-writer/persist.js";
import { ownDatabase } from "../helpers/env.js";

let own: Awaited<ReturnType<typeof ownDatabase>>;
let database: Database;
beforeAll(async () => {
  own = await ownDatabase();
  database = createDatabase(own.url, 2);
});
afterAll(async () => {
  await database?.close();
  await own?.drop();
});

/** Rows with what escaping and conversion can get wrong: quotes, `?`, a backslash, NFD, milliseconds, NULL, a default. */
function rows(saleId: string): NewOrder[] {
  const at = new Date(Date.UTC(2026, 10, 30, 23, 59, 59, 7));
  return [
    {
      id: newOrderId(),
      saleId,
      userId: "o'brien?\\x",
      slot: 2,
      liveSlot: 2,
      quantity: 1,
      amountCents: 123_456_789_012,
      status: "pending_payment",
      createdAt: at,
      persistedAt: new Date(at.getTime() + 999),
      payBy: new Date(at.getTime() + 900_000),
    },
    {
      id: newOrderId(),
      saleId,
      userId: "Jose\u0301",
      slot: undefined, // the column's default (1)
      liveSlot: null,
      quantity: 1,
      amountCents: 0,
      status: "closed",
      createdAt: at,
      persistedAt: at,
      payBy: at,
    },
  ];
}

describe("bulkInsert", () => {
  it("writes rows exactly as drizzle's insert writes them", async () => {
    const viaDrizzle = rows(`bulk-d-${newOrderId()}`);
    const viaBulk = rows(`bulk-b-${newOrderId()}`);
    await database.db.insert(orders).values(viaDrizzle);
    const conn = await database.pool.getConnection();
    try {
      expect((await ordersInsert.run(conn, viaBulk))?.affectedRows).toBe(2);
    } finally {
      conn.release();
    }
    const read = async (saleId: string) =>
      (await database.db.select().from(orders).where(eq(orders.saleId, saleId)).orderBy(orders.id)).map(({ id, saleId, ...rest }) => rest);
    const a = await read(viaDrizzle[0].saleId as string);
    expect(a).toHaveLength(2);
    expect(await read(viaBulk[0].saleId as string)).toEqual(a);
    expect(a.map((r) => [r.userId, r.slot, r.liveSlot, r.createdAt.toISOString()])).toEqual([
      ["o'brien?\\x", 2, 2, "2026-11-30T23:59:59.007Z"],
      ["Jose\u0301", 1, null, "2026-11-30T23:59:59.007Z"],
    ]);
  });

  it("refuses a row with a field outside its keys instead of dropping it", () => {
    const few = bulkInsert(orders, ["id", "saleId"]);
    expect(() => few.values([{ id: "x", saleId: "s", userId: "u" } as NewOrder])).toThrow(/userId is not among the keys/);
  });

  it("keeps user ids byte-exact: case, a trailing space, NFC and NFD, emoji, quotes and backslashes are distinct buyers of one slot", async () => {
    const saleId = `bulk-x-${newOrderId()}`;
    const users = [
      "ann",
      "ann ",
      "ANN",
      " ann",
      "Jos\u00e9",
      "Jose\u0301",
      "\u{1F600}",
      "\u{1F600}\u{1F3FD}",
      `q"'\\`,
      "q\"'\\\\",
      "a\nb",
      "\\0",
    ];
    const at = new Date(Date.UTC(2026, 10, 30, 12, 0, 0));
    const batch: NewOrder[] = users.map((userId) => ({
      id: newOrderId(),
      saleId,
      userId,
      slot: 1,
      liveSlot: 1,
      quantity: 1,
      amountCents: 1,
      status: "pending_payment",
      createdAt: at,
      persistedAt: at,
      payBy: at,
    }));
    const conn = await database.pool.getConnection();
    try {
      expect((await ordersInsert.run(conn, batch))?.affectedRows).toBe(users.length);
    } finally {
      conn.release();
    }
    const read = await database.db.select().from(orders).where(eq(orders.saleId, saleId));
    expect(read.map((r) => Buffer.from(r.userId).toString("hex")).sort()).toEqual(users.map((u) => Buffer.from(u).toString("hex")).sort());
  });
});
