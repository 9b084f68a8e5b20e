import { h, money } from "../shared/dom.js";
import { call } from "../shared/http.js";

interface SaleRow {
  id: string;
  title: string;
  state: string;
  totalStock: number;
  loaded: boolean;
  remaining: number;
  accepted: number;
  persisted: number;
  paid: number;
  startsAt: string;
  endsAt: string;
}
interface Sale {
  id: string;
  title: string;
  priceCents: number;
  totalStock: number;
  startsAt: string;
  endsAt: string;
  paymentTimeoutSeconds: number;
  perUserLimit: number;
  admission?: "open" | "pass" | "queue";
  powDifficultyBits?: number;
  inletPerSecond?: number;
  admissionWindowSeconds?: number;
}

export async function preload(id: string): Promise<string> {
  const { data } = await call<{ remaining: number }>("POST", `/admin/sales/${encodeURIComponent(id)}/preload?force=true`);
  return `preloaded: ${data.remaining} in Redis`;
}

export async function endEarly(id: string): Promise<string> {
  await call("PATCH", `/admin/sales/${encodeURIComponent(id)}`, { body: { endsAt: new Date().toISOString() } });
  return "ended";
}

/** The sales list, refreshed every 2 s. */
export async function showSales(main: HTMLElement) {
  const note = h("div", { class: "muted", "data-testid": "note" });
  const body = h("tbody", {});
  main.append(
    h("div", { class: "actions" }, h("h2", {}, "Sales"), h("a", { href: "#/sales/new" }, h("button", {}, "New sale"))),
    note,
    h(
      "table",
      { "data-testid": "sales-table" },
      h(
        "thead",
        {},
        h("tr", {}, ...["sale", "state", "stock", "remaining", "accepted", "persisted", "paid", "starts", ""].map((t) => h("th", {}, t))),
      ),
      body,
    ),
  );
  const act = (label: string, fn: () => Promise<string>) =>
    h(
      "button",
      {
        class: "secondary",
        onclick: async () => {
          try {
            note.textContent = await fn();
          } catch (err) {
            note.textContent = (err as Error).message;
          }
          await load();
        },
      },
      label,
    );
  async function load() {
    const { data } = await call<{ sales: SaleRow[] }>("GET", "/admin/sales");
    body.replaceChildren(
      ...data.sales.map((s) =>
        h(
          "tr",
          { "data-sale": s.id },
          h("td", {}, h("a", { href: `#/sales/${encodeURIComponent(s.id)}` }, s.id), h("div", { class: "muted" }, s.title)),
          h("td", {}, h("span", { class: `pill ${s.state}` }, s.state), s.loaded ? "" : h("div", { class: "muted" }, "not preloaded")),
          h("td", {}, s.totalStock),
          h("td", {}, s.remaining),
          h("td", {}, s.accepted),
          h("td", {}, s.persisted),
          h("td", {}, s.paid),
          h("td", {}, new Date(s.startsAt).toLocaleString()),
          h(
            "td",
            { class: "actions" },
            h("a", { href: `#/sales/${encodeURIComponent(s.id)}/edit` }, h("button", { class: "secondary" }, "Edit")),
            act("Preload", () => preload(s.id)),
            s.state === "open" || s.state === "sold_out" ? act("End early", () => endEarly(s.id)) : null,
          ),
        ),
      ),
    );
  }
  await load();
  const timer = setInterval(() => void load().catch(() => {}), 2000);
  return () => clearInterval(timer);
}

/** datetime-local wants local time without a zone. */
const toLocalInput = (iso: string) => {
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
};

/** Create (no id) or edit a sale: every field. */
export async function showSaleForm(main: HTMLElement, id?: string) {
  const sale = id ? (await call<{ sales: SaleRow[] }>("GET", "/admin/sales?limit=500")).data.sales.find((s) => s.id === id) : undefined;
  const full = id ? (await call<{ sale: Sale }>("GET", `/admin/sales/${encodeURIComponent(id)}/live`)).data.sale : undefined;
  const now = Date.now();
  const field = (name: string, label: string, attrs: Record<string, string>) => {
    const input = h("input", { name, "data-testid": `field-${name}`, ...attrs });
    return [h("label", { for: name }, label), input] as const;
  };
  const fields = [
    ...(id ? [] : field("id", "id (optional)", { placeholder: "spring-drop", pattern: "[A-Za-z0-9_-]{1,64}" })),
    ...field("title", "title", { value: full?.title ?? "", required: "" }),
    ...field("priceCents", "price (cents)", { type: "number", min: "0", value: String(full?.priceCents ?? 1999) }),
    ...field("stock", "stock", {
      type: "number",
      min: "1",
      value: String(full?.totalStock ?? 100),
      ...(sale?.loaded ? { disabled: "" } : {}),
    }),
    ...field("startsAt", "starts at (local time)", {
      type: "datetime-local",
      step: "1",
      value: toLocalInput(full?.startsAt ?? new Date(now + 60_000).toISOString()),
    }),
    ...field("endsAt", "ends at (local time)", {
      type: "datetime-local",
      step: "1",
      value: toLocalInput(full?.endsAt ?? new Date(now + 3600_000).toISOString()),
    }),
    ...field("paymentTimeoutSeconds", "payment timeout (s)", {
      type: "number",
      min: "10",
      value: String(full?.paymentTimeoutSeconds ?? 900),
    }),
    ...field("perUserLimit", "per-user limit", { type: "number", min: "1", max: "10", value: String(full?.perUserLimit ?? 1) }),
    ...(id
      ? [h("label", {}, "admission"), h("span", { "data-testid": "admission" }, full?.admission ?? "open")]
      : [
          h("label", { for: "admission" }, "admission"),
          h(
            "select",
            { name: "admission", "data-testid": "field-admission" },
            ...["open", "pass", "queue"].map((m) => h("option", { value: m }, m)),
          ),
        ]),
    ...field("powDifficultyBits", "proof of work (bits, pass)", {
      type: "number",
      min: "0",
      max: "32",
      value: String(full?.powDifficultyBits ?? 16),
    }),
    ...field("inletPerSecond", "admissions/s (queue)", { type: "number", min: "1", value: String(full?.inletPerSecond ?? 50) }),
    ...field("admissionWindowSeconds", "pass lasts (s)", {
      type: "number",
      min: "10",
      max: "3600",
      value: String(full?.admissionWindowSeconds ?? 120),
    }),
  ];
  const error = h("div", { class: "error", "data-testid": "form-error" });
  const form = h(
    "form",
    { class: "grid card", "data-testid": "sale-form" },
    ...fields,
    h("span", {}),
    h("button", { "data-testid": "save-sale" }, id ? "Save" : "Create"),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = (n: string) => (form.elements.namedItem(n) as HTMLInputElement | null)?.value ?? "";
    const body: Record<string, unknown> = {
      title: v("title"),
      priceCents: Number(v("priceCents")),
      startsAt: new Date(v("startsAt")).toISOString(),
      endsAt: new Date(v("endsAt")).toISOString(),
      paymentTimeoutSeconds: Number(v("paymentTimeoutSeconds")),
      perUserLimit: Number(v("perUserLimit")),
    };
    if (!sale?.loaded) body.stock = Number(v("stock"));
    for (const n of ["powDifficultyBits", "inletPerSecond", "admissionWindowSeconds"]) body[n] = Number(v(n));
    if (!id) body.admission = v("admission");
    if (!id && v("id")) body.id = v("id");
    try {
      const { data } = id
        ? await call<Sale>("PATCH", `/admin/sales/${encodeURIComponent(id)}`, { body })
        : await call<Sale>("POST", "/admin/sales", { body });
      location.hash = `#/sales/${encodeURIComponent(data.id)}`;
    } catch (err) {
      error.textContent = (err as Error).message;
    }
  });
  main.append(
    h("h2", {}, id ? `Edit ${id}` : "New sale"),
    full
      ? h(
          "p",
          { class: "muted" },
          `Price now ${money(full.priceCents)}. ${sale?.loaded ? "Stock is loaded in Redis and can no longer change." : "Preload the sale before it starts."}`,
        )
      : "",
    form,
    error,
  );
  return undefined;
}
