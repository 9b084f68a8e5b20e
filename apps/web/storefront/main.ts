import "../shared/base.css";
import "./storefront.css";
import { h, money } from "../shared/dom.js";
import { ApiError, call } from "../shared/http.js";
import { admit } from "./admission.js";
import { createServerClock, formatCountdown } from "./clock.js";

/**
 * The storefront demo: a static page (served with Cache-Control and an ETag, the same bytes for
 * everyone) that reads the sale from GET /api/sales/:id every second and counts down on the
 * server's clock. The buy button opens at the start; the order is polled until the writer has
 * stored it (pending_payment). In development a user id signs in and "pay" goes through the
 * payment simulator.
 */
interface Sale {
  id: string;
  title: string;
  priceCents: number;
  totalStock: number;
  remaining: number;
  startsAt: string;
  endsAt: string;
  state: "upcoming" | "open" | "sold_out" | "ended";
  serverTime?: string;
  admission?: "pass" | "queue";
}
interface Order {
  orderId: string;
  status: string;
  payBy?: string;
}

const app = document.getElementById("app")!;
const params = new URLSearchParams(location.search);
const saleId = params.get("sale");
const clock = createServerClock();
let sale: Sale | undefined;
let token = sessionStorage.getItem("seckill.token") ?? "";
let userId = sessionStorage.getItem("seckill.user") ?? "";
let order: Order | undefined;
let devAvailable = true;
let buying = false;
let message = "";

const el = {
  title: h("h1", { "data-testid": "sale-title" }, "Flash sale"),
  price: h("div", { class: "price" }),
  state: h("span", { class: "pill", "data-testid": "sale-state" }),
  stock: h("div", { class: "muted", "data-testid": "sale-stock" }),
  countdown: h("div", { class: "countdown", "data-testid": "countdown" }),
  buy: h("button", { class: "buy", "data-testid": "buy", disabled: true, onclick: () => void buy() }, "Buy now"),
  status: h("div", { class: "status", "data-testid": "order-status" }),
  pay: h("button", { class: "secondary", "data-testid": "pay", hidden: true, onclick: () => void pay() }, "Pay (development)"),
  message: h("div", { class: "error", "data-testid": "message" }),
  who: h("span", { "data-testid": "signed-in-as" }),
  userInput: h("input", { placeholder: "user id, e.g. ann", "data-testid": "user-id", value: userId }),
  signIn: h("button", { class: "secondary", "data-testid": "sign-in", onclick: () => void signIn() }, "Sign in"),
};
const devBox = h("div", { class: "dev card" }, h("strong", {}, "Development sign-in "), el.userInput, " ", el.signIn, " ", el.who);

if (!saleId) {
  const input = h("input", { placeholder: "sale id", name: "sale" });
  app.append(
    h(
      "div",
      { class: "card shop" },
      h("h1", {}, "Flash sale"),
      h("p", { class: "muted" }, "Open the page with ?sale=<sale id> (npm start prints the demo sale's link)."),
      h("form", { method: "get" }, input, " ", h("button", {}, "Open")),
    ),
  );
} else {
  app.append(
    h(
      "div",
      { class: "card shop" },
      el.title,
      h("div", { class: "row" }, el.price, el.state),
      el.stock,
      el.countdown,
      el.buy,
      el.status,
      el.pay,
      el.message,
    ),
    devBox,
  );
  void refreshSale();
  setInterval(() => void refreshSale(), 1000);
  setInterval(render, 200);
}

async function refreshSale() {
  const sentAt = Date.now();
  try {
    const { data, res } = await call<Sale>("GET", `/api/sales/${encodeURIComponent(saleId!)}`);
    if (data.serverTime) clock.sample(data.serverTime, Number(res.headers.get("age") ?? 0), sentAt, Date.now());
    sale = data;
    render();
  } catch (err) {
    el.title.textContent = err instanceof ApiError && err.status === 404 ? `No sale "${saleId}"` : "The shop is busy; retrying…";
  }
}

function render() {
  if (!sale) return;
  const now = clock.now();
  const startsAt = Date.parse(sale.startsAt);
  const endsAt = Date.parse(sale.endsAt);
  // The state on the server's clock, between two reads of the sale.
  const state = now >= endsAt ? "ended" : now < startsAt ? "upcoming" : sale.remaining <= 0 ? "sold_out" : "open";
  el.title.textContent = sale.title;
  el.price.textContent = money(sale.priceCents);
  el.state.textContent = state.replace("_", " ");
  el.state.className = `pill ${state}`;
  el.stock.textContent = `${sale.remaining} of ${sale.totalStock} left`;
  el.countdown.textContent =
    state === "upcoming"
      ? `Starts in ${formatCountdown(startsAt - now)}`
      : state === "open"
        ? `Ends in ${formatCountdown(endsAt - now)}`
        : "";
  el.buy.disabled = state !== "open" || !token || order !== undefined || buying;
  el.buy.title = token ? "" : "sign in first";
  el.who.textContent = userId ? `signed in as ${userId}` : "";
  devBox.hidden = !devAvailable;
  el.message.textContent = message;
  if (order) {
    el.status.textContent = `Order ${order.orderId}: ${order.status.replace("_", " ")}`;
    el.status.dataset.status = order.status;
    el.pay.hidden = !(devAvailable && order.status === "pending_payment");
  }
}

async function signIn() {
  const id = el.userInput.value.trim();
  try {
    const { data } = await call<{ token: string; userId: string }>("POST", "/api/dev/token", { body: { userId: id } });
    token = data.token;
    userId = data.userId;
    sessionStorage.setItem("seckill.token", token);
    sessionStorage.setItem("seckill.user", userId);
    order = undefined;
    message = "";
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) devAvailable = false; // production: the shop signs users in
    message = (err as Error).message;
  }
  render();
}

async function buy() {
  buying = true;
  el.buy.disabled = true;
  try {
    const pass = await admit(sale!, token, (msg) => {
      el.status.textContent = msg;
    });
    const { data } = await call<Order>("POST", `/api/sales/${encodeURIComponent(sale!.id)}/orders`, {
      body: {},
      token,
      headers: pass ? { "x-purchase-pass": pass } : {},
    });
    order = data;
    message = "";
    render();
    await pollOrder(["pending_payment", "paid", "closed", "refund_required"]);
  } catch (err) {
    message = (err as Error).message;
    render();
  } finally {
    buying = false;
  }
}

/** Polls the order until its status is one of `until` (the writer stores it within moments). */
async function pollOrder(until: string[]) {
  for (let i = 0; i < 600 && order && !until.includes(order.status); i++) {
    await new Promise((r) => setTimeout(r, 500));
    const { data } = await call<Order>("GET", `/api/orders/${encodeURIComponent(order.orderId)}`, { token });
    order = data;
    render();
  }
}

async function pay() {
  el.pay.disabled = true;
  try {
    await call("POST", "/api/dev/pay", { body: { orderId: order!.orderId }, token });
    await pollOrder(["paid", "closed", "refund_required"]);
  } catch (err) {
    message = (err as Error).message;
  } finally {
    el.pay.disabled = false;
    render();
  }
}
