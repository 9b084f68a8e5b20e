import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "../shared/dom.js";
import { call } from "../shared/http.js";
import { type Bucket, bucketDelta, histogramQuantile } from "./quantile.js";
import { endEarly, preload } from "./sales.js";

interface Live {
  at: string;
  state: string;
  sale: { id: string; title: string; totalStock: number };
  stats: {
    remaining: number;
    accepted: number;
    persisted: number;
    paid: number;
    closed: number;
    pendingHandoff: number;
    writerLag: number | null;
    blocked: boolean;
    loaded: boolean;
  };
  responses: Record<string, number>;
  latencyBuckets: Bucket[];
  dlq: { sale: number; total: number };
}

const OUTCOMES = ["202", "409", "410", "429", "503"] as const;
const COLORS = { "202": "#1f8a4c", "409": "#b7791f", "410": "#c53030", "429": "#805ad5", "503": "#2b6cb0", other: "#718096" };
const KEEP = 120; // samples (one per second): two minutes on screen
const P99_WINDOW = 5; // seconds of observations behind each p99 point

function chart(el: HTMLElement, title: string, series: { label: string; stroke: string }[], yLabel: string) {
  const data: number[][] = [[], ...series.map(() => [])];
  const plot = new uPlot(
    {
      width: 460,
      height: 200,
      title,
      scales: { x: { time: true } },
      axes: [{}, { label: yLabel, size: 56 }],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, spanGaps: true }))],
    },
    data as uPlot.AlignedData,
    el,
  );
  return {
    push(t: number, values: (number | null)[]) {
      data[0].push(t);
      for (const [i, v] of values.entries()) data[i + 1].push(v as number);
      if (data[0].length > KEEP) for (const d of data) d.shift();
      plot.setData(data as uPlot.AlignedData);
    },
    destroy: () => plot.destroy(),
  };
}

/**
 * The live dashboard of one sale: GET /admin/sales/:id/live every second. The server sends
 * cumulative counters; rates and the p99 are differences between samples, so a missed poll
 * loses nothing.
 */
export async function showDashboard(main: HTMLElement, id: string) {
  const tiles = new Map<string, HTMLElement>();
  const tile = (key: string, label: string) => {
    const v = h("div", { class: "v", "data-testid": `tile-${key}` }, "–");
    tiles.set(key, v);
    return h("div", { class: "tile" }, v, h("div", { class: "k" }, label));
  };
  const state = h("span", { class: "pill", "data-testid": "dash-state" });
  const note = h("div", { class: "muted", "data-testid": "note" });
  const report = h("pre", { "data-testid": "reconcile-report", hidden: true });
  const act = (label: string, fn: () => Promise<string>, testid: string) =>
    h(
      "button",
      {
        class: "secondary",
        "data-testid": testid,
        onclick: async () => {
          try {
            note.textContent = await fn();
          } catch (err) {
            note.textContent = (err as Error).message;
          }
        },
      },
      label,
    );
  const boxes = [0, 1, 2, 3].map(() => h("div", { class: "card" }));
  main.append(
    h("div", { class: "actions" }, h("h2", { "data-testid": "dash-title" }, `Sale ${id}`), state),
    h(
      "div",
      { class: "actions" },
      act(
        "Reconcile",
        async () => {
          const { data } = await call<{ state: string }>("POST", `/admin/sales/${encodeURIComponent(id)}/reconcile`);
          report.hidden = false;
          report.textContent = JSON.stringify(data, null, 2);
          return `reconcile: ${data.state}`;
        },
        "reconcile",
      ),
      act("Preload", () => preload(id), "preload"),
      act("End early", () => endEarly(id), "end-early"),
      h("a", { href: `#/sales/${encodeURIComponent(id)}/edit` }, h("button", { class: "secondary" }, "Edit")),
    ),
    note,
    h(
      "div",
      { class: "tiles" },
      tile("remaining", "remaining"),
      tile("rate", "purchases/s"),
      tile("accepted", "accepted (202)"),
      tile("persisted", "persisted (MySQL)"),
      tile("paid", "paid"),
      tile("closed", "closed"),
      tile("writerLag", "writer lag (msgs)"),
      tile("handoff", "handoff backlog"),
      tile("dlq", "dead letters"),
      tile("p99", `p99 purchase (${P99_WINDOW} s)`),
    ),
    h("div", { class: "charts" }, ...boxes),
    report,
  );
  const rates = chart(
    boxes[0],
    "purchases/s by answer",
    [...OUTCOMES.map((o) => ({ label: o, stroke: COLORS[o] })), { label: "other", stroke: COLORS.other }],
    "/s",
  );
  const orders = chart(
    boxes[1],
    "orders",
    [
      { label: "accepted", stroke: "#1f8a4c" },
      { label: "persisted", stroke: "#3056d3" },
      { label: "paid", stroke: "#805ad5" },
      { label: "closed", stroke: "#c53030" },
    ],
    "orders",
  );
  const pipeline = chart(
    boxes[2],
    "pipeline",
    [
      { label: "writer lag", stroke: "#b7791f" },
      { label: "handoff backlog", stroke: "#2b6cb0" },
      { label: "dead letters", stroke: "#c53030" },
    ],
    "messages",
  );
  const latency = chart(boxes[3], `p99 of the purchase path (${P99_WINDOW} s window)`, [{ label: "p99 ms", stroke: "#3056d3" }], "ms");

  const history: { t: number; responses: Record<string, number>; buckets: Bucket[] }[] = [];
  let stopped = false;
  async function tick() {
    const { data } = await call<Live>("GET", `/admin/sales/${encodeURIComponent(id)}/live`);
    if (stopped) return;
    const t = Date.parse(data.at) / 1000;
    const prev = history.at(-1);
    history.push({ t, responses: data.responses, buckets: data.latencyBuckets });
    if (history.length > P99_WINDOW + 1) history.shift();
    const dt = prev ? Math.max(0.001, t - prev.t) : 1;
    const rate = (status: string) => (prev ? Math.max(0, ((data.responses[status] ?? 0) - (prev.responses[status] ?? 0)) / dt) : 0);
    const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
    const known = OUTCOMES.reduce((sum, o) => sum + rate(o), 0);
    const all = prev ? Math.max(0, (total(data.responses) - total(prev.responses)) / dt) : 0;
    const p99s = histogramQuantile(0.99, bucketDelta(data.latencyBuckets, history[0] === history.at(-1) ? undefined : history[0].buckets));
    const p99ms = p99s === null ? null : p99s * 1000;
    const s = data.stats;

    state.textContent = s.blocked ? "blocked: reconcile" : data.state.replace("_", " ");
    state.className = `pill ${data.state}`;
    const set = (k: string, v: string | number) => {
      tiles.get(k)!.textContent = String(v);
    };
    set("remaining", `${s.remaining} / ${data.sale.totalStock}`);
    set("rate", Math.round(all));
    set("accepted", s.accepted);
    set("persisted", s.persisted);
    set("paid", s.paid);
    set("closed", s.closed);
    set("writerLag", s.writerLag ?? "?");
    set("handoff", s.pendingHandoff);
    set("dlq", data.dlq.sale);
    set("p99", p99ms === null ? "–" : `${p99ms < 100 ? p99ms.toFixed(1) : Math.round(p99ms)} ms`);

    rates.push(t, [...OUTCOMES.map(rate), Math.max(0, all - known)]);
    orders.push(t, [s.accepted, s.persisted, s.paid, s.closed]);
    pipeline.push(t, [s.writerLag, s.pendingHandoff, data.dlq.sale]);
    latency.push(t, [p99ms]);
  }
  await tick();
  const timer = setInterval(() => void tick().catch((err) => (note.textContent = (err as Error).message)), 1000);
  return () => {
    stopped = true;
    clearInterval(timer);
    for (const c of [rates, orders, pipeline, latency]) c.destroy();
  };
}
