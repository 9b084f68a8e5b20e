import { h } from "../shared/dom.js";
import { call } from "../shared/http.js";

interface History {
  orderId: string;
  saleId: string | null;
  userId: string | null;
  status: string;
  events: { at: string | null; source: string; what: string; detail?: Record<string, unknown> }[];
}

/** Order lookup: everything the platform knows of one order, from Redis to payments. */
export async function showOrderLookup(main: HTMLElement, orderId?: string) {
  const input = h("input", { placeholder: "order id", "data-testid": "order-id", size: "32", value: orderId ?? "" });
  const out = h("div", { "data-testid": "order-history" });
  const form = h("form", { class: "actions" }, input, h("button", { "data-testid": "lookup" }, "Look up"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = `#/orders/${encodeURIComponent(input.value.trim())}`;
  });
  main.append(h("h2", {}, "Order lookup"), form, out);
  if (!orderId) return undefined;
  try {
    const { data } = await call<History>("GET", `/admin/orders/${encodeURIComponent(orderId)}/history`);
    out.append(
      h(
        "p",
        {},
        "Order ",
        h("code", {}, data.orderId),
        " of user ",
        h("code", {}, data.userId ?? "?"),
        " in sale ",
        data.saleId ? h("a", { href: `#/sales/${encodeURIComponent(data.saleId)}` }, data.saleId) : "?",
        ": ",
        h("span", { class: "pill", "data-testid": "order-state" }, data.status),
      ),
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, h("th", {}, "when"), h("th", {}, "where"), h("th", {}, "what"), h("th", {}, "detail"))),
        h(
          "tbody",
          {},
          ...data.events.map((e) =>
            h(
              "tr",
              { "data-source": e.source },
              h("td", {}, e.at ? new Date(e.at).toLocaleTimeString() : ""),
              h("td", {}, e.source),
              h("td", {}, e.what),
              h("td", {}, e.detail ? h("code", {}, JSON.stringify(e.detail)) : ""),
            ),
          ),
        ),
      ),
    );
  } catch (err) {
    out.append(h("p", { class: "error" }, (err as Error).message));
  }
  return undefined;
}
