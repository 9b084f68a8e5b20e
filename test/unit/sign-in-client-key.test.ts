import { describe, expect, it } from "vitest";
import { signInClientKey } from "../../apps/admin/sign-in-limiter.js";

describe("the client a failed console sign-in counts against", () => {
  it("is an IPv4 address as it is, without a port, and an IPv4-mapped IPv6 address counts as its IPv4 address", () => {
    expect(signInClientKey("198.51.100.7")).toBe("198.51.100.7");
    expect(signInClientKey("198.51.100.7:5123")).toBe("198.51.100.7");
    expect(signInClientKey("::ffff:198.51.100.7")).toBe("198.51.100.7");
    expect(signInClientKey("::ffff:c633:6407")).toBe("198.51.100.7"); // the same, written in hex
  });

  it("is an IPv6 address's /64, however the address is written", () => {
    const key = "2001:db8:1:2::/64";
    for (const ip of [
      "2001:db8:1:2::1",
      "2001:DB8:1:2:ffff:ffff:ffff:ffff",
      "2001:0db8:0001:0002:0:0:0:9",
      "[2001:db8:1:2::3]:443",
      "2001:db8:1:2::4%eth0",
      "2001:db8:1:2::1.2.3.4",
    ]) {
      expect(signInClientKey(ip), ip).toBe(key);
    }
    expect(signInClientKey("2001:db8:1:3::1")).not.toBe(key);
    expect(signInClientKey("::1")).toBe("0:0:0:0::/64");
  });

  it("keeps anything that is not an address as written", () => {
    expect(signInClientKey("unknown")).toBe("unknown");
  });
});
