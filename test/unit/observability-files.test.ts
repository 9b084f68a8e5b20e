import { readFileSync } from "node:fs";
import type { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createPlatformMetrics, createRegistry } from "../../apps/core/metrics.js";

/**
 * The Grafana dashboard and the Prometheus alert rules name series by hand; this keeps them true
 * to the registry every app serves on /metrics: each metric they name must be registered (a
 * histogram's _bucket/_sum/_count included), and each label they select or group by must be one
 * of its labels (or one Prometheus adds on scrape).
 */
const SCRAPE_LABELS = new Set(["instance", "job"]);
const HISTOGRAM_SUFFIXES = ["_bucket", "_sum", "_count"];
// Not metric names: PromQL functions, aggregations and keywords that can appear in these files.
const METRIC_PREFIXES = /^(seckill|nodejs|process)_/;

interface Series {
  metric: string;
  labels: Set<string>;
}

async function exportedSeries(registry: Registry): Promise<Map<string, Series>> {
  const out = new Map<string, Series>();
  for (const m of await registry.getMetricsAsJSON()) {
    const labels = new Set<string>();
    const metric = registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] };
    for (const l of metric.labelNames ?? []) labels.add(l);
    // Default metrics set some labels per value (e.g. nodejs_heap_space_size_bytes{space}).
    for (const v of m.values as { labels: Record<string, unknown> }[]) for (const l of Object.keys(v.labels)) labels.add(l);
    if (String(m.type) === "histogram") {
      for (const s of HISTOGRAM_SUFFIXES)
        out.set(`${m.name}${s}`, { metric: m.name, labels: new Set([...labels, ...(s === "_bucket" ? ["le"] : [])]) });
    } else out.set(m.name, { metric: m.name, labels });
  }
  return out;
}

/** Every PromQL expression of the dashboard (panel targets) and of the rules file. */
function dashboardExprs(): string[] {
  const dash = JSON.parse(readFileSync("infra/grafana/seckill-dashboard.json", "utf8")) as {
    panels: { type: string; targets?: { expr: string }[] }[];
  };
  return dash.panels.filter((p) => p.type !== "row").flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}
function ruleExprs(): { alert: string; expr: string; runbook?: string }[] {
  const doc = parse(readFileSync("infra/prometheus/alerts.yml", "utf8")) as {
    groups: { rules: { alert: string; expr: string; annotations?: { runbook?: string } }[] }[];
  };
  return doc.groups.flatMap((g) => g.rules.map((r) => ({ alert: r.alert, expr: String(r.expr), runbook: r.annotations?.runbook })));
}

/** The metrics an expression names, with the labels it selects on each, and the labels it groups by. */
function references(expr: string) {
  const metrics: { name: string; selected: string[] }[] = [];
  for (const m of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{([^}]*)\})?/g)) {
    if (!METRIC_PREFIXES.test(m[1])) continue;
    const selected = m[3] ? [...m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)].map((s) => s[1]) : [];
    metrics.push({ name: m[1], selected });
  }
  const grouped = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((g) =>
    g[1]
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );
  return { metrics, grouped };
}

async function problemsOf(expr: string, series: Map<string, Series>): Promise<string[]> {
  const { metrics, grouped } = references(expr);
  if (metrics.length === 0) return [`${expr}: names no platform metric`];
  const problems: string[] = [];
  const labelsInExpr = new Set<string>(SCRAPE_LABELS);
  for (const m of metrics) {
    const s = series.get(m.name);
    if (!s) {
      problems.push(`${m.name}: not exported by the registry`);
      continue;
    }
    for (const l of s.labels) labelsInExpr.add(l);
    for (const l of m.selected) if (!s.labels.has(l) && !SCRAPE_LABELS.has(l)) problems.push(`${m.name}{${l}}: no such label`);
  }
  for (const l of grouped) if (!labelsInExpr.has(l)) problems.push(`by (${l}) in ${expr}: no metric of the expression has that label`);
  return problems;
}

describe("dashboard and alert rules", () => {
  const registry = createRegistry();
  createPlatformMetrics(registry);

  it("the dashboard names only series and labels the registry exports", async () => {
    const series = await exportedSeries(registry);
    const exprs = dashboardExprs();
    expect(exprs.length).toBeGreaterThan(15);
    const problems = (await Promise.all(exprs.map((e) => problemsOf(e, series)))).flat();
    expect(problems).toEqual([]);
  });

  it("the alert rules name only series and labels the registry exports, and cover lag, backlog, DLQ and reconcile drift", async () => {
    const series = await exportedSeries(registry);
    const rules = ruleExprs();
    const problems = (await Promise.all(rules.map((r) => problemsOf(r.expr, series)))).flat();
    expect(problems).toEqual([]);
    const named = (metric: string) => rules.some((r) => references(r.expr).metrics.some((m) => m.name === metric));
    for (const metric of [
      "seckill_writer_consumer_lag",
      "seckill_handoff_pending",
      "seckill_dlq_messages_total",
      "seckill_reconcile_runs_total",
    ]) {
      expect(named(metric), metric).toBe(true);
    }
  });

  it("each runbook an alert links is a heading of the README", () => {
    const readme = readFileSync("README.md", "utf8");
    // GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens.
    const anchors = new Set(
      [...readme.matchAll(/^#{1,6}\s+(.+)$/gm)].map((h) =>
        h[1]
          .trim()
          .toLowerCase()
          .replace(/[^\p{L}\p{N}\s_-]/gu, "")
          .replace(/\s/g, "-"),
      ),
    );
    const links = ruleExprs().flatMap((r) => (r.runbook ? [r.runbook.replace(/^README\.md#/, "")] : []));
    expect(links.length).toBeGreaterThan(0);
    expect(links.filter((a) => !anchors.has(a))).toEqual([]);
  });

  it("the check catches a renamed metric and a label that does not exist", async () => {
    const series = await exportedSeries(registry);
    expect(await problemsOf("sum(seckill_writer_lag)", series)).toEqual(["seckill_writer_lag: not exported by the registry"]);
    expect(await problemsOf('sum(rate(seckill_purchases_total{reason="x"}[1m]))', series)).toEqual([
      "seckill_purchases_total{reason}: no such label",
    ]);
    expect((await problemsOf("sum by (sale) (seckill_writer_consumer_lag)", series)).length).toBe(1);
  });
});
