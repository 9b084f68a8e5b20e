import { serve } from "@hono/node-server";
import { Hono } from "hono";
import mysql from "mysql2/promise";

/**
 * What a shop without Redis does, behind the same Hono server: one MySQL transaction per
 * purchase attempt (a conditional stock decrement, then the order insert). The bench compares
 * the platform's contention scenario against this.
 */
const url = new URL(process.env.DATABASE_URL ?? "mysql://root@127.0.0.1:3306/seckill_bench");
const admin = await mysql.createConnection({ uri: `${url.protocol}//${url.username}@${url.host}/` });
await admin.query(`CREATE DATABASE IF NOT EXISTS \`${url.pathname.slice(1)}\``);
await admin.end();
const pool = mysql.createPool({ uri: url.toString(), connectionLimit: 32 });
await pool.query(`CREATE TABLE IF NOT EXISTS bench_stock (id VARCHAR(64) PRIMARY KEY, stock INT NOT NULL)`);
await pool.query(
  `CREATE TABLE IF NOT EXISTS bench_orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, sale_id VARCHAR(64) NOT NULL, user_id VARCHAR(64) NOT NULL, UNIQUE KEY (sale_id, user_id))`,
);
const app = new Hono();
app.get("/healthz", (c) => c.json({ ok: true }));
app.post("/sales/:id/stock/:n", async (c) => {
  await pool.query("REPLACE INTO bench_stock (id, stock) VALUES (?, ?)", [c.req.param("id"), Number(c.req.param("n"))]);
  return c.json({ ok: true });
});
app.post("/sales/:id/orders", async (c) => {
  const user = c.req.header("x-user") ?? "anonymous";
  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
    const [res] = await conn.query("UPDATE bench_stock SET stock = stock - 1 WHERE id = ? AND stock > 0", [c.req.param("id")]);
    if ((res as { affectedRows: number }).affectedRows === 0) {
      await conn.rollback();
      return c.json({ error: { code: "sold_out" } }, 410);
    }
    await conn.query("INSERT INTO bench_orders (sale_id, user_id) VALUES (?, ?)", [c.req.param("id"), user]);
    await conn.commit();
    return c.json({ status: "queued" }, 202);
  } catch (err) {
    await conn.rollback().catch(() => {});
    if ((err as { errno?: number }).errno === 1062) return c.json({ error: { code: "already_purchased" } }, 409);
    throw err;
  } finally {
    conn.release();
  }
});
serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: "127.0.0.1" }, () => process.stdout.write("ready\n"));
