import { serve } from "@hono/node-server";
import { Hono } from "hono";

/** The box's HTTP ceiling: a bare Hono JSON handler on the same Node, for the bench's ratios. */
const app = new Hono();
app.post("/", (c) => c.json({ orderId: "baseline", status: "queued" }, 202));
app.get("/", (c) => c.json({ ok: true }));
serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: "127.0.0.1" }, () => process.stdout.write("ready\n"));
