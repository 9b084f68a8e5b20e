import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { EVENT_VERSION, ORDER_EVENT_TYPES, orderEventSchema, STATUS_AFTER } from "../../apps/domain/order-events.js";

type JsonSchema = { properties: Record<string, Record<string, unknown>>; required: string[]; examples: unknown[] };
const documented = JSON.parse(readFileSync(new URL("../../docs/events/order-event.schema.json", import.meta.url), "utf8")) as JsonSchema;

/** A property without what only one side has: the doc's descriptions, zod's long date-time regex. */
const shape = (p: Record<string, unknown>) => {
  const { description: _d, pattern, ...rest } = p;
  return p.format === "date-time" ? rest : { ...rest, ...(pattern ? { pattern } : {}) };
};

describe("the order event's documented JSON Schema", () => {
  it("says exactly what the code accepts: same fields, types, bounds and required list", () => {
    const generated = z.toJSONSchema(orderEventSchema) as unknown as JsonSchema;
    expect(Object.keys(documented.properties)).toEqual(Object.keys(generated.properties));
    for (const [name, prop] of Object.entries(generated.properties))
      expect([name, shape(documented.properties[name])]).toEqual([name, shape(prop)]);
    expect(documented.required).toEqual(generated.required);
  });

  it("its example is a valid event", () => {
    for (const example of documented.examples) expect(orderEventSchema.safeParse(example).success).toBe(true);
  });

  it("gives every event type a version and a resulting status, with versions contiguous along each path", () => {
    expect(Object.keys(EVENT_VERSION).sort()).toEqual([...ORDER_EVENT_TYPES].sort());
    expect(Object.keys(STATUS_AFTER).sort()).toEqual([...ORDER_EVENT_TYPES].sort());
    const paths = [
      ["order.created", "order.paid"],
      ["order.created", "order.closed", "order.refund_required"],
    ] as const;
    for (const path of paths) expect(path.map((t) => EVENT_VERSION[t])).toEqual(path.map((_, i) => i + 1));
  });

  it("a consumer ignores fields it does not know (new optional fields are not a breaking change)", () => {
    const [example] = documented.examples as Record<string, unknown>[];
    expect(orderEventSchema.safeParse({ ...example, channel: "app" }).success).toBe(true);
  });
});
