import { describe, expect, it } from "vitest";
import { clientIp } from "../../apps/gateway/client-ip.js";

describe("client address behind trusted proxies", () => {
  it("uses the socket address when no proxy is trusted, whatever X-Forwarded-For claims", () => {
    expect(clientIp("10.0.0.9", "1.2.3.4", 0)).toBe("10.0.0.9");
  });

  it("takes the entry our one trusted proxy appended, ignoring what the client wrote before it", () => {
    expect(clientIp("10.0.0.9", "6.6.6.6, 203.0.113.7", 1)).toBe("203.0.113.7");
  });

  it("with two trusted hops, skips the inner proxy's entry", () => {
    expect(clientIp("10.0.0.9", "6.6.6.6, 203.0.113.7, 10.0.0.5", 2)).toBe("203.0.113.7");
  });

  it("with fewer entries than trusted hops, falls back to the leftmost", () => {
    expect(clientIp("10.0.0.9", "203.0.113.7", 3)).toBe("203.0.113.7");
  });
});
