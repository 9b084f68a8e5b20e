import { h } from "../shared/dom.js";
import { call } from "../shared/http.js";

interface DeadLetter {
  id: string;
  at: string;
  reason: string;
  detail: string;
  orderId: string | null;
  saleId: string | null;
  value: string;
  redrivenAt: string | null;
}

/** The DLQ browser: each dead letter with the writer's reason; re-drive republishes it to seckill.orders. */
export async function showDeadLetters(main: HTMLElement) {
  const body = h("tbody", {});
  const note = h("div", { class: "muted", "data-testid": "note" }, "Reading seckill.orders.dlq…");
  main.append(
    h("h2", {}, "Dead letters"),
    h(
      "p",
      { class: "muted" },
      "Messages the order writer could not store, with its reason. Re-drive sends one back to seckill.orders once its cause is fixed; the writer is idempotent, so a re-drive never makes a second order.",
    ),
    note,
    h(
      "table",
      { "data-testid": "dlq-table" },
      h("thead", {}, h("tr", {}, ...["when", "reason", "detail", "order", "sale", ""].map((t) => h("th", {}, t)))),
      body,
    ),
  );
  async function load() {
    const { data } = await call<{ deadLetters: DeadLetter[]; total: number }>("GET", "/admin/dlq");
    note.textContent = `${data.total} dead letter(s)`;
    body.replaceChildren(
      ...data.deadLetters.map((l) =>
        h(
          "tr",
          { "data-dead-letter": l.id, "data-order": l.orderId ?? "" },
          h("td", {}, new Date(l.at).toLocaleTimeString()),
          h("td", {}, h("span", { class: "pill" }, l.reason)),
          h("td", {}, l.detail, h("div", {}, h("code", {}, l.value.slice(0, 120)))),
          h("td", {}, l.orderId ? h("a", { href: `#/orders/${encodeURIComponent(l.orderId)}` }, l.orderId) : "–"),
          h("td", {}, l.saleId ?? "–"),
          h(
            "td",
            {},
            l.redrivenAt
              ? h("span", { class: "muted", "data-testid": "redriven" }, `re-driven ${new Date(l.redrivenAt).toLocaleTimeString()}`)
              : h(
                  "button",
                  {
                    class: "secondary",
                    "data-testid": "redrive",
                    onclick: async () => {
                      try {
                        await call("POST", `/admin/dlq/${encodeURIComponent(l.id)}/redrive`);
                      } catch (err) {
                        note.textContent = (err as Error).message;
                      }
                      await load();
                    },
                  },
                  "Re-drive",
                ),
          ),
        ),
      ),
    );
  }
  await load();
  const timer = setInterval(() => void load().catch(() => {}), 2000);
  return () => clearInterval(timer);
}
