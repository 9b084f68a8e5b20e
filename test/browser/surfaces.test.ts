import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orders } from "../../apps/core/db/schema/index.js";
import { newOrderId } from "../../apps/core/ids.js";
import { createProducer } from "../../apps/core/kafka.js";
import { listen } from "../../apps/core/serve.js";
import { buildWeb } from "../../apps/site/build-web.js";
import { CHROMIUM, ensurePackages } from "../../infra/packages.js";
import { randomId } from "../helpers/env.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { eventually, sleep } from "../helpers/wait.js";

/**
 * The console and the storefront as a person uses them, in Debian's Chromium driven by
 * playwright-core, against the platform on the real test stack over real HTTP. Screenshots go
 * to docs/screenshots/ with UPDATE_SCREENSHOTS=1 (`npm run screenshots`), else to a temp dir.
 */
const SHOTS =
  process.env.UPDATE_SCREENSHOTS === "1" ? join(import.meta.dirname, "../../docs/screenshots") : mkdtempSync(join(tmpdir(), "shots-"));
mkdirSync(SHOTS, { recursive: true });

let p: TestPlatform;
let http: Awaited<ReturnType<typeof listen>>;
let base: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  ensurePackages(["chromium"]);
  await buildWeb({ log: () => {} });
  p = await startTestPlatform({ writer: true, lifecycle: true, env: { MAX_INFLIGHT_PURCHASES: "100000" } });
  http = await listen(p.gateway.app, "127.0.0.1", 0);
  base = `http://127.0.0.1:${http.port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  context = await browser.newContext({ viewport: { width: 1180, height: 640 }, baseURL: base });
  page = await context.newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await http?.close();
  await p?.stop();
});

const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

describe("the admin console", () => {
  it("signs in with the admin token into an HttpOnly, SameSite=Strict session; a wrong token is refused", async () => {
    await page.goto("/admin/console");
    await shot("console-sign-in");
    await page.getByTestId("admin-token").fill("not-the-token");
    await page.getByTestId("sign-in").click();
    await expect.poll(() => page.getByTestId("signin-error").textContent()).toContain("not the admin token");
    await page.getByTestId("admin-token").fill(p.services.config.ADMIN_TOKEN);
    await page.getByTestId("sign-in").click();
    await page.getByTestId("sales-table").waitFor();
    const [cookie] = (await context.cookies()).filter((c) => c.name === "seckill_admin");
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/admin" });
    expect(cookie.expires * 1000 - Date.now()).toBeGreaterThan(7 * 3600_000);
  });

  it("creates and preloads a sale, then the dashboard counts the purchases a crowd makes", async () => {
    const saleId = randomId("console-");
    await page.goto("/admin/console#/sales/new");
    await page.getByTestId("field-id").fill(saleId);
    await page.getByTestId("field-title").fill("Console sale");
    await page.getByTestId("field-stock").fill("40");
    await page
      .getByTestId("field-startsAt")
      .fill(new Date(Date.now() - 60_000 - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 19));
    await shot("console-new-sale");
    await page.getByTestId("save-sale").click();
    await page.getByTestId("dash-title").waitFor();
    expect(page.url()).toContain(`#/sales/${saleId}`);
    await page.getByTestId("preload").click();
    await expect.poll(() => page.getByTestId("note").textContent()).toBe("preloaded: 40 in Redis");

    // Edit it: once loaded, the stock is fixed and the form says so.
    await page.goto(`/admin/console#/sales/${saleId}/edit`);
    expect(await page.getByTestId("field-stock").isDisabled()).toBe(true);
    await page.getByTestId("field-title").fill("Console sale (edited)");
    await page.getByTestId("field-perUserLimit").fill("2");
    await page.getByTestId("save-sale").click();
    await page.getByTestId("dash-title").waitFor();
    expect(await (await page.request.get(`/api/sales/${saleId}`)).json()).toMatchObject({ title: "Console sale (edited)", totalStock: 40 });

    // A crowd of 100 distinct buyers over real HTTP against 40 units.
    const tokens = await Promise.all(Array.from({ length: 100 }, (_, i) => p.token(`crowd-${saleId}-${i}`)));
    const answers = await Promise.all(
      tokens.map((t) =>
        fetch(`${base}/api/sales/${saleId}/orders`, {
          method: "POST",
          headers: { authorization: `Bearer ${t}`, "content-type": "application/json" },
          body: "{}",
        }),
      ),
    );
    const accepted = answers.filter((r) => r.status === 202);
    expect(accepted).toHaveLength(40);
    const orderIds = await Promise.all(accepted.map(async (r) => ((await r.json()) as { orderId: string }).orderId));

    await expect.poll(() => page.getByTestId("tile-accepted").textContent(), { timeout: 20_000 }).toBe("40");
    await expect.poll(() => page.getByTestId("tile-persisted").textContent(), { timeout: 30_000 }).toBe("40");
    expect(await page.getByTestId("tile-remaining").textContent()).toBe("0 / 40");
    expect(await page.getByTestId("dash-state").textContent()).toBe("sold out");
    expect(await page.getByTestId("tile-p99").textContent()).toMatch(/ms$/);
    await page.getByTestId("reconcile").click();
    await expect.poll(() => page.getByTestId("reconcile-report").textContent()).toContain('"state": "consistent"');
    await sleep(2000); // two more samples on the charts, for the picture
    await page.screenshot({ path: join(SHOTS, "console-dashboard.png"), fullPage: true });

    await page.goto("/admin/console#/sales");
    await page.locator(`tr[data-sale="${saleId}"]`).waitFor();
    expect(await page.locator(`tr[data-sale="${saleId}"] td`).allTextContents()).toEqual(expect.arrayContaining(["40", "0"]));
    await shot("console-sales");

    // Order lookup: the whole history of one of the crowd's orders.
    await page.goto(`/admin/console#/orders/${orderIds[0]}`);
    await page.locator('[data-testid="order-history"] tr[data-source="mysql"]').first().waitFor();
    const sources = await page
      .locator('[data-testid="order-history"] tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-source")));
    expect(sources).toEqual(expect.arrayContaining(["redis", "kafka", "mysql"]));
    expect(await page.getByTestId("order-state").textContent()).toBe("pending_payment");
    await shot("console-order");
  });

  it("shows a dead letter with its reason and re-drives it into seckill.orders, where the writer stores it", async () => {
    const saleId = await p.createSale({ stock: 5 });
    const orderId = newOrderId();
    const now = Date.now();
    const producer = createProducer(p.services.kafka);
    await producer.connect();
    await producer.send({
      topic: p.services.topics.ordersDlq,
      messages: [
        {
          value: JSON.stringify({
            v: 1,
            orderId,
            saleId,
            userId: "dlq-buyer",
            slot: 1,
            quantity: 1,
            amountCents: 1000,
            acceptedAt: now,
            payBy: now + 900_000,
          }),
          headers: { reason: "db_rejected", detail: "MySQL refused the row 5 times (test)" },
        },
      ],
    });
    await producer.disconnect();

    await page.goto("/admin/console#/dlq");
    const row = page.locator(`tr[data-order="${orderId}"]`);
    await row.waitFor({ timeout: 20_000 });
    expect(await row.textContent()).toContain("db_rejected");
    await shot("console-dlq");
    await row.getByTestId("redrive").click();
    await row.getByTestId("redriven").waitFor();
    await eventually(
      "the re-driven order is stored",
      async () => (await p.services.database.db.select().from(orders).where(eq(orders.id, orderId))).length === 1,
      20_000,
    );
  });

  it("signs out: the cookie is gone and the console asks for the token again", async () => {
    await page.goto("/admin/console#/sales");
    await page.getByTestId("sign-out").click();
    await page.getByTestId("admin-token").waitFor();
    expect((await context.cookies()).filter((c) => c.name === "seckill_admin")).toEqual([]);
    expect((await page.request.get("/admin/sales")).status()).toBe(401);
  });
});

describe("the API reference", () => {
  it("renders /openapi.json at /docs from the platform's own origin only (no CDN)", async () => {
    const docs = await context.newPage();
    const elsewhere: string[] = [];
    docs.on("request", (r) => {
      if (!r.url().startsWith(base)) elsewhere.push(r.url());
    });
    await docs.goto("/docs");
    await docs.locator(".opblock").first().waitFor({ timeout: 20_000 });
    expect(await docs.locator(".opblock").count()).toBeGreaterThanOrEqual(20);
    expect(await docs.locator(".opblock-summary-path").allTextContents()).toEqual(
      expect.arrayContaining(["/api/sales/{saleId}/orders", "/admin/sales/{id}/live"]),
    );
    expect(elsewhere).toEqual([]);
    await docs.screenshot({ path: join(SHOTS, "api-reference.png") });
    await docs.close();
  });
});

describe("the storefront", () => {
  it("is a static page with an ETag that a cache can revalidate", async () => {
    const first = await fetch(`${base}/`);
    expect(first.headers.get("cache-control")).toBe("public, max-age=60");
    const etag = first.headers.get("etag");
    expect(etag).toBeTruthy();
    expect((await fetch(`${base}/`, { headers: { "if-none-match": etag! } })).status).toBe(304);
  });

  it("counts down to the start, buys at the start, shows pending_payment, pays and shows paid", async () => {
    const startsAt = new Date(Date.now() + 7000); // room for the page to load and sign in on a busy machine
    const saleId = await p.createSale({ stock: 3, startsAt, title: "Storefront sale", priceCents: 2599 });
    const shop = await context.newPage();
    await shop.setViewportSize({ width: 760, height: 520 });
    await shop.goto(`/?sale=${saleId}`);
    await shop.getByTestId("user-id").fill("ann");
    await shop.getByTestId("sign-in").click();
    await expect.poll(() => shop.getByTestId("signed-in-as").textContent()).toBe("signed in as ann");
    await expect.poll(() => shop.getByTestId("countdown").textContent()).toMatch(/^Starts in 00:0[1-8]$/);
    expect(await shop.getByTestId("buy").isDisabled()).toBe(true);
    await shop.screenshot({ path: join(SHOTS, "storefront-countdown.png") });

    await expect.poll(() => shop.getByTestId("buy").isEnabled(), { timeout: 10_000 }).toBe(true);
    // The button opened on the server's clock: never before the start.
    expect(Date.now()).toBeGreaterThanOrEqual(startsAt.getTime() - 300);
    await shop.getByTestId("buy").click();
    const status = shop.getByTestId("order-status");
    await expect.poll(() => status.getAttribute("data-status"), { timeout: 20_000 }).toBe("pending_payment");
    await shop.screenshot({ path: join(SHOTS, "storefront-pending-payment.png") });
    await shop.getByTestId("pay").click();
    await expect.poll(() => status.getAttribute("data-status"), { timeout: 20_000 }).toBe("paid");
    await shop.screenshot({ path: join(SHOTS, "storefront-paid.png") });
    await shop.close();
  });

  it("buys in a pass sale (proof of work solved in the page) and in a waiting-room sale (admitted, then buys with the pass)", async () => {
    const passSale = await p.createSale({ stock: 3, admission: "pass", powDifficultyBits: 8, title: "Pass sale" });
    const queueSale = await p.createSale({ stock: 3, admission: "queue", inletPerSecond: 100, title: "Waiting-room sale" });
    const shop = await context.newPage();
    for (const [saleId, user] of [
      [passSale, "pat"],
      [queueSale, "quinn"],
    ]) {
      await shop.goto(`/?sale=${saleId}`);
      await shop.getByTestId("user-id").fill(user);
      await shop.getByTestId("sign-in").click();
      await expect.poll(() => shop.getByTestId("buy").isEnabled(), { timeout: 10_000 }).toBe(true);
      await shop.getByTestId("buy").click();
      await expect.poll(() => shop.getByTestId("order-status").getAttribute("data-status"), { timeout: 20_000 }).toBe("pending_payment");
    }
    await shop.close();
    expect(await p.stats(passSale)).toMatchObject({ accepted: 1 });
    expect(await p.stats(queueSale)).toMatchObject({ accepted: 1 });
  });
});
