import type { PreloadSettings } from "../../apps/domain/sale-store.js";
import { randomId } from "./env.js";

type AppLike = { request(path: string, init?: RequestInit): Response | Promise<Response> };

export interface SaleSpec {
  id?: string;
  title?: string;
  stock?: number;
  startsAt?: Date;
  endsAt?: Date;
  perUserLimit?: number;
  stockBuckets?: number;
  priceCents?: number;
  /** Admission fields of POST /admin/sales (README "Admission"), passed through when given. */
  admission?: "open" | "pass" | "queue";
  powDifficultyBits?: number;
  inletPerSecond?: number;
  admissionWindowSeconds?: number;
  /** Load the stock into Redis (forced, so it works for a sale already open). Default true. */
  preload?: boolean;
}

/** Creates a sale through the admin routes (open now for an hour unless told) and preloads it; returns its id. */
export async function createSaleVia(app: AppLike, adminToken: string, s: SaleSpec = {}): Promise<string> {
  const id = s.id ?? randomId("sale-");
  const now = Date.now();
  const headers = { authorization: `Bearer ${adminToken}`, "content-type": "application/json" };
  const res = await app.request("/admin/sales", {
    method: "POST",
    headers,
    body: JSON.stringify({
      id,
      title: s.title ?? `test sale ${id}`,
      priceCents: s.priceCents ?? 1000,
      stock: s.stock ?? 100,
      startsAt: (s.startsAt ?? new Date(now - 1000)).toISOString(),
      endsAt: (s.endsAt ?? new Date(now + 3600_000)).toISOString(),
      perUserLimit: s.perUserLimit ?? 1,
      admission: s.admission,
      powDifficultyBits: s.powDifficultyBits,
      inletPerSecond: s.inletPerSecond,
      admissionWindowSeconds: s.admissionWindowSeconds,
      ...(s.stockBuckets ? { stockBuckets: s.stockBuckets } : {}),
    }),
  });
  if (res.status !== 201) throw new Error(`create sale: ${res.status} ${await res.text()}`);
  if (s.preload ?? true) {
    const pre = await app.request(`/admin/sales/${id}/preload?force=true`, { method: "POST", headers });
    if (pre.status !== 200) throw new Error(`preload: ${pre.status} ${await pre.text()}`);
  }
  return id;
}

/** Preload settings of a sale open now for an hour: 3 units, one per buyer, unless told. */
export function openSale(over: Partial<PreloadSettings> = {}): PreloadSettings {
  return {
    totalStock: 3,
    startsAt: new Date(Date.now() - 1000),
    endsAt: new Date(Date.now() + 3600_000),
    perUserLimit: 1,
    priceCents: 1999,
    paymentTimeoutSeconds: 900,
    ...over,
  };
}
