import { describe, expect, it } from "vitest";
import { issueSession, SESSION_TTL_MS, verifySession } from "../../apps/admin/session.js";

const TOKEN = "an-admin-token-for-this-test-0123456789";
const NOW = 1_700_000_000_000;

describe("the console's session cookie", () => {
  it("carries its generation, expiry and nonce, and gives them back while unexpired", () => {
    const s = issueSession(TOKEN, "gen-A", NOW);
    expect(s.expiresAt).toBe(NOW + SESSION_TTL_MS);
    expect(verifySession(TOKEN, s.value, NOW + 1000)).toEqual({ generation: "gen-A", expiresAt: s.expiresAt, nonce: s.nonce });
    expect(verifySession(TOKEN, s.value, s.expiresAt)).toBeNull();
  });

  it("refuses an edited generation or nonce, another token's signature and the old v1 format", () => {
    const parts = issueSession(TOKEN, "gen-B", NOW).value.split(".");
    const edit = (i: number, v: string) => parts.map((p, j) => (j === i ? v : p)).join(".");
    expect(verifySession(TOKEN, edit(1, "gen-C"), NOW)).toBeNull();
    expect(verifySession(TOKEN, edit(3, "AAAAAAAAAAAAAAAA"), NOW)).toBeNull();
    expect(verifySession("another-admin-token-0123456789", parts.join("."), NOW)).toBeNull();
    expect(verifySession(TOKEN, ["v1", ...parts.slice(2)].join("."), NOW)).toBeNull();
    expect(verifySession(TOKEN, undefined, NOW)).toBeNull();
  });
});
