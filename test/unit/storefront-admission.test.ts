import { describe, expect, it } from "vitest";
import { powSolves } from "../../apps/domain/admission/challenge.js";
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
