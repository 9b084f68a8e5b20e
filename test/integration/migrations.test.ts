import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drizzle } from "drizzle-orm/mysql2";
import { migrate } from "drizzle-orm/mysql2/migrator";
import mysql from "mysql2/promise";
import { describe, expect, it } from "vitest";
import { MIGRATIONS_DIR, migrateDatabase } from "../../apps/core/db/client.js";
import { precreateDatabase, randomId, stackInfo } from "../helpers/env.js";

/** Every identifier column of the schema: byte-exact whatever the database's default collation. */
const IDENTIFIER_COLUMNS = [
  "order_events.event_id",
  "order_events.order_id",
  "order_events.sale_id",
  "order_events.user_id",
  "orders.id",
  "orders.sale_id",
  "orders.user_id",
  "payments.provider_txn_id",
  "payments.event_id",
  "payments.order_id",
  "payment_conflicts.event_id",
  "payment_conflicts.provider_txn_id",
  "payment_conflicts.order_id",
  "payment_conflicts.first_order_id",
  "sales.id",
  "sales.stock_home_redis",
  "sales.stock_home_prefix",
];

const journal = () => JSON.parse(readFileSync(join(MIGRATIONS_DIR, "meta/_journal.json"), "utf8")) as { entries: { tag: string }[] };

describe("migrations", () => {
  it("apply to an empty database, twice in a row and twice at once, without harm", async () => {
    const name = randomId("seckill_mig_");
    const url = stackInfo().databaseUrl.replace(/[^/]+$/, name);
    const admin = await mysql.createConnection({ uri: stackInfo().databaseUrl });
    try {
      await migrateDatabase(url);
      await migrateDatabase(url);
      await Promise.all([migrateDatabase(url), migrateDatabase(url)]);
      const [tables] = await admin.query("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? ORDER BY 1", [name]);
      expect((tables as { t: string }[]).map((r) => r.t).sort()).toEqual([
        "__drizzle_migrations",
        "order_events",
        "orders",
        "payment_conflicts",
        "payments",
        "sales",
      ]);
      const [applied] = await admin.query(`SELECT COUNT(*) AS n FROM \`${name}\`.__drizzle_migrations`);
      expect((applied as { n: number }[])[0].n).toBe(journal().entries.length);
      const [idx] = await admin.query(
        "SELECT index_name AS i, GROUP_CONCAT(column_name ORDER BY seq_in_index) AS cols FROM information_schema.statistics WHERE table_schema = ? AND table_name = 'orders' AND non_unique = 0 GROUP BY index_name ORDER BY 1",
        [name],
      );
      expect(idx).toEqual([
        { i: "orders_sale_user_slot", cols: "sale_id,user_id,live_slot" },
        { i: "PRIMARY", cols: "id" },
      ]);
    } finally {
      // Only the database this test created.
      await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await admin.end();
    }
  });

  it("make every identifier column byte-exact in a database pre-created with utf8mb4_general_ci, keeping the rows it had", async () => {
    const name = randomId("seckill_mig_ci_");
    const url = stackInfo().databaseUrl.replace(/[^/]+$/, name);
    const admin = await mysql.createConnection({ uri: stackInfo().databaseUrl });
    // The schema as it was before identifiers were made byte-exact (migrations up to 0001).
    const before = mkdtempSync(join(tmpdir(), "seckill-mig-"));
    try {
      await precreateDatabase(url, "utf8mb4_general_ci");
      cpSync(MIGRATIONS_DIR, before, { recursive: true });
      const j = journal();
      const upTo = j.entries.findIndex((e) => e.tag.startsWith("0002_"));
      writeFileSync(join(before, "meta/_journal.json"), JSON.stringify({ ...j, entries: j.entries.slice(0, upTo) }));
      const old = await mysql.createConnection({ uri: url });
      await migrate(drizzle(old), { migrationsFolder: before });
      await old.query(
        "INSERT INTO sales (id, title, price_cents, total_stock, starts_at, ends_at, created_at) VALUES ('Promo-1', 'old', 100, 3, NOW(3), NOW(3), NOW(3))",
      );
      await old.query(
        "INSERT INTO orders (id, sale_id, user_id, quantity, amount_cents, status, created_at, persisted_at, pay_by) VALUES ('01KAAAAAAAAAAAAAAAAAAAAAAA', 'Promo-1', 'Ann-7', 1, 100, 'pending_payment', NOW(3), NOW(3), NOW(3))",
      );
      await old.query(
        "INSERT INTO payments (provider_txn_id, event_id, order_id, amount_cents, status, outcome, received_at) VALUES (?, 'evt_1', '01KAAAAAAAAAAAAAAAAAAAAAAA', 100, 'failed', 'failed', NOW(3))",
        ["ch_\u00e9"],
      );
      // On that default the old schema is case-insensitive: the very fault being fixed.
      const [ci] = await old.query("SELECT COUNT(*) AS n FROM orders WHERE user_id = 'ann-7'");
      expect((ci as { n: number }[])[0].n).toBe(1);
      await old.end();

      await migrateDatabase(url);

      const [cols] = await admin.query(
        "SELECT CONCAT(table_name, '.', column_name) AS c, data_type AS t FROM information_schema.columns WHERE table_schema = ?",
        [name],
      );
      const types = Object.fromEntries((cols as { c: string; t: string }[]).map((r) => [r.c, r.t]));
      for (const c of IDENTIFIER_COLUMNS) expect({ column: c, type: types[c] }).toEqual({ column: c, type: "varbinary" });
      const conn = await mysql.createConnection({ uri: url });
      try {
        const [rows] = await conn.query(
          "SELECT CAST(o.user_id AS CHAR) AS u, CAST(o.sale_id AS CHAR) AS s, CAST(p.provider_txn_id AS CHAR) AS t FROM orders o JOIN payments p ON p.order_id = o.id",
        );
        expect(rows).toEqual([{ u: "Ann-7", s: "Promo-1", t: "ch_\u00e9" }]);
        const count = async (q: string, params: string[] = []) => ((await conn.query(q, params))[0] as { n: number }[])[0].n;
        expect(await count("SELECT COUNT(*) AS n FROM orders WHERE user_id = 'ann-7'")).toBe(0);
        expect(await count("SELECT COUNT(*) AS n FROM orders WHERE user_id = 'Ann-7'")).toBe(1);
        expect(await count("SELECT COUNT(*) AS n FROM sales WHERE id = 'Promo-1 '")).toBe(0);
        expect(await count("SELECT COUNT(*) AS n FROM sales WHERE id = 'PROMO-1'")).toBe(0);
        expect(await count("SELECT COUNT(*) AS n FROM payments WHERE provider_txn_id = ?", ["ch_e\u0301"])).toBe(0);
        expect(await count("SELECT COUNT(*) AS n FROM payments WHERE provider_txn_id = ?", ["ch_\u00e9"])).toBe(1);
      } finally {
        await conn.end();
      }
    } finally {
      rmSync(before, { recursive: true, force: true });
      await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await admin.end();
    }
  });
});
