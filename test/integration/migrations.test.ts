import mysql from "mysql2/promise";
import { describe, expect, it } from "vitest";
import { migrateDatabase } from "../../apps/core/db/client.js";
import { randomId, stackInfo } from "../helpers/env.js";

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
      expect((tables as { t: string }[]).map((r) => r.t).sort()).toEqual(["__drizzle_migrations", "orders", "payments", "sales"]);
      const [applied] = await admin.query(`SELECT COUNT(*) AS n FROM \`${name}\`.__drizzle_migrations`);
      expect((applied as { n: number }[])[0].n).toBe(2);
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
});
