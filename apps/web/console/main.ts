import "../shared/base.css";
import "./console.css";
import { h } from "../shared/dom.js";
import { ApiError, call } from "../shared/http.js";
import { showDashboard } from "./dashboard.js";
import { showDeadLetters } from "./dlq.js";
import { showOrderLookup } from "./orders.js";
import { showSaleForm, showSales } from "./sales.js";

/**
 * The admin console: one page, routed by the URL's hash. Every call goes to /admin/* with the
 * session cookie (HttpOnly: this code never sees it); the server checks the Origin of writes.
 */
const root = document.getElementById("app")!;
let stopPage: (() => void) | undefined;

const nav = [
  ["#/sales", "Sales"],
  ["#/sales/new", "New sale"],
  ["#/orders", "Order lookup"],
  ["#/dlq", "Dead letters"],
] as const;

function layout(): HTMLElement {
  const main = h("main", {});
  const links = nav.map(([href, label]) => h("a", { href, class: location.hash === href ? "active" : undefined }, label));
  const signOut = h("button", { class: "secondary", "data-testid": "sign-out", onclick: () => void doSignOut() }, "Sign out");
  root.replaceChildren(
    h("header", {}, h("span", { class: "brand" }, "Seckill console"), ...links, h("span", { class: "spacer" }), signOut),
    main,
  );
  return main;
}

async function doSignOut() {
  await call("DELETE", "/admin/session");
  location.hash = "";
  await route();
}

function signInPage() {
  const input = h("input", {
    type: "password",
    placeholder: "ADMIN_TOKEN",
    "data-testid": "admin-token",
    autocomplete: "current-password",
  });
  const error = h("div", { class: "error", "data-testid": "signin-error" });
  const form = h(
    "form",
    { class: "card signin" },
    h("h2", {}, "Sign in to the console"),
    h("p", { class: "muted" }, "With the admin token (ADMIN_TOKEN). The session lasts 8 hours."),
    input,
    h("button", { "data-testid": "sign-in" }, "Sign in"),
    error,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await call("POST", "/admin/session", { body: { token: input.value } });
      if (!location.hash || location.hash === "#/") location.hash = "#/sales";
      await route();
    } catch (err) {
      error.textContent = (err as Error).message;
    }
  });
  root.replaceChildren(form);
  input.focus();
}

async function route() {
  stopPage?.();
  stopPage = undefined;
  const { data } = await call<{ signedIn: boolean }>("GET", "/admin/session");
  if (!data.signedIn) return signInPage();
  const hash = location.hash || "#/sales";
  const main = layout();
  const guard = (p: Promise<(() => void) | undefined>) =>
    p.then(
      (stop) => {
        stopPage = stop;
      },
      (err) => {
        if (err instanceof ApiError && err.status === 401) return signInPage();
        main.append(h("div", { class: "error" }, (err as Error).message));
      },
    );
  const edit = hash.match(/^#\/sales\/([^/]+)\/edit$/);
  const dashboard = hash.match(/^#\/sales\/([^/]+)$/);
  const order = hash.match(/^#\/orders(?:\/(.+))?$/);
  if (hash === "#/sales") await guard(showSales(main));
  else if (hash === "#/sales/new") await guard(showSaleForm(main));
  else if (edit) await guard(showSaleForm(main, decodeURIComponent(edit[1])));
  else if (dashboard) await guard(showDashboard(main, decodeURIComponent(dashboard[1])));
  else if (order) await guard(showOrderLookup(main, order[1] ? decodeURIComponent(order[1]) : undefined));
  else if (hash === "#/dlq") await guard(showDeadLetters(main));
  else main.append(h("p", {}, "No such page."));
}

window.addEventListener("hashchange", () => void route());
void route();
