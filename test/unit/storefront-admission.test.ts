import { afterEach, describe, expect, it, vi } from "vitest";
import { powSolves } from "../../apps/domain/admission/challenge.js";
import { admit } from "../../apps/web/storefront/admission.js";
import { leadingZeroBits, solvePow } from "../../apps/web/storefront/pow.js";

describe("the storefront's proof-of-work solver (WebCrypto, as in the browser)", () => {
  it("counts leading zero bits across bytes", () => {
    expect(leadingZeroBits(Uint8Array.from([0, 0, 0x1f, 0xff]))).toBe(19);
    expect(leadingZeroBits(Uint8Array.from([0x80]))).toBe(0);
    expect(leadingZeroBits(Uint8Array.from([0, 0]))).toBe(16);
  });

  it("finds the nonce the server's check accepts, and the first one", async () => {
    const prefix = "challenge-prefix-for-a-test:";
    const nonce = await solvePow(prefix, 10);
    expect(powSolves(prefix, nonce, 10)).toBe(true);
    for (let i = 0; i < Number(nonce); i++) expect(powSolves(prefix, String(i), 10)).toBe(false);
  });
});

describe("the storefront's waiting room (fetch stubbed, fake timers)", () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });
  const answer = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
  const waiting = { state: "waiting", position: 3, estimatedWaitSeconds: 6, pollAfterSeconds: 1 };

  it("waits out a 429 or 503 for its Retry-After and polls on, keeping its place, until admitted", async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, "random").mockReturnValue(0); // no jitter: the waits are exact
    const answers = [
      answer(202, waiting),
      answer(429, { error: { code: "rate_limited", message: "slow down" } }, { "retry-after": "3" }),
      answer(503, { error: { code: "overloaded", message: "busy" } }, { "retry-after": "2" }),
      answer(200, { ...waiting, state: "admitted", position: 1, pass: "the-pass" }),
    ];
    const calls: { method: string; at: number }[] = [];
    vi.stubGlobal("fetch", async (_path: string, init: RequestInit) => {
      calls.push({ method: String(init.method), at: Date.now() });
      return answers.shift()!;
    });
    const said: string[] = [];
    const pass = admit({ id: "s1", admission: "queue" }, "tok", (m) => said.push(m));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await pass).toBe("the-pass");
    expect(calls.map((c) => c.method)).toEqual(["POST", "GET", "GET", "GET"]);
    // The poll after pollAfterSeconds, then 3 s (the 429's Retry-After), then 2 s (the 503's).
    expect(calls.slice(1).map((c, i) => c.at - calls[i].at)).toEqual([1000, 3000, 2000]);
    expect(said.filter((m) => m.includes("busy"))).toHaveLength(2);
  });

  it("without Retry-After it backs off 1, 2, 4 s, each up to a quarter longer at random", async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, "random").mockReturnValue(0.999);
    const busy = () => answer(503, { error: { code: "overloaded", message: "busy" } });
    const answers = [busy(), busy(), busy(), answer(202, { ...waiting, state: "admitted", pass: "p" })];
    const at: number[] = [];
    vi.stubGlobal("fetch", async () => {
      at.push(Date.now());
      return answers.shift()!;
    });
    const pass = admit({ id: "s1", admission: "queue" }, "tok", () => {});
    await vi.advanceTimersByTimeAsync(20_000);
    expect(await pass).toBe("p");
    expect(at.slice(1).map((t, i) => t - at[i])).toEqual([1249, 2499, 4999]);
  });

  it("waits at most a minute, whatever Retry-After says", async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, "random").mockReturnValue(0);
    const answers = [
      answer(429, { error: { code: "rate_limited", message: "slow down" } }, { "retry-after": "86400" }),
      answer(202, { ...waiting, state: "admitted", pass: "p" }),
    ];
    const at: number[] = [];
    vi.stubGlobal("fetch", async () => {
      at.push(Date.now());
      return answers.shift()!;
    });
    const pass = admit({ id: "s1", admission: "queue" }, "tok", () => {});
    await vi.advanceTimersByTimeAsync(61_000);
    expect(await pass).toBe("p");
    expect(at[1] - at[0]).toBe(60_000);
  });

  it("gives up on any other error (a sale that ended): the buyer is told", async () => {
    vi.stubGlobal("fetch", async () => answer(403, { error: { code: "sale_ended", message: "the sale has ended" } }));
    await expect(admit({ id: "s1", admission: "queue" }, "tok", () => {})).rejects.toMatchObject({ status: 403, code: "sale_ended" });
  });
});
