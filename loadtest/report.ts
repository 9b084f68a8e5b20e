import type { Row } from "./scenarios.js";

/** The bench's table (markdown, so it pastes into a closing note or the README as it is). */
export function table(rows: Row[]): string {
  const head = ["scenario", "layout", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "p99 at half rate", "ratio"];
  const lines = rows.map((r) => [
    r.scenario,
    r.layout,
    Math.round(r.rps).toLocaleString("en"),
    r.p50 ? String(r.p50) : "",
    r.p99 ? String(r.p99) : "",
    r.p999 ? String(r.p999) : "",
    String(r.errors),
    r.half ? `${r.half.p99} ms at ${r.half.rate.toLocaleString("en")}/s` : "",
    r.ratio ?? "",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(" | ")} |`;
  return [fmt(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...lines.map(fmt)].join("\n");
}

/** Throughput bars with p50/p99 written beside them. */
export function chart(rs: Row[]): string {
  const max = Math.max(...rs.map((r) => r.rps));
  const barH = 22;
  const w = 1100;
  const bars = rs
    .map((r, i) => {
      const y = 40 + i * (barH + 8);
      const len = Math.max(2, Math.round((r.rps / max) * 420));
      const label = `${r.scenario}${r.layout === "-" ? "" : ` · ${r.layout}`}`;
      const latency = r.p99 ? ` · p50 ${r.p50} ms · p99 ${r.p99} ms${r.half ? ` · p99 ${r.half.p99} ms at half rate` : ""}` : "";
      return `<text x="10" y="${y + 16}" font-size="12">${label}</text><rect x="260" y="${y}" width="${len}" height="${barH}" fill="#4a7bd0"/><text x="${268 + len}" y="${y + 16}" font-size="11">${Math.round(r.rps).toLocaleString("en")}/s${latency}</text>`;
    })
    .join("");
  const h = 60 + rs.length * (barH + 8);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/><text x="10" y="22" font-size="15" font-weight="bold">seckill bench: throughput (req/s, or ops/s and rows/s where said) and latency per scenario</text>${bars}</svg>\n`;
}
