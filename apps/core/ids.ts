import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // Crockford base32

let lastTime = 0;
const lastRandom = new Uint8Array(10);

/**
 * A ULID: 48 bits of milliseconds then 80 random bits, 26 characters, sortable by creation time.
 * Within one millisecond the random part is incremented, so ids from one process stay strictly
 * increasing; across processes the 80 random bits make a collision negligible.
 */
export function newOrderId(now = Date.now()): string {
  if (now <= lastTime) {
    now = lastTime;
    for (let i = 9; i >= 0; i--) {
      lastRandom[i] = (lastRandom[i] + 1) & 0xff;
      if (lastRandom[i] !== 0) break;
    }
  } else {
    lastTime = now;
    lastRandom.set(randomBytes(10));
  }
  let out = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  // 80 bits -> 16 base32 characters, 5 bits at a time.
  let acc = 0;
  let bits = 0;
  for (const byte of lastRandom) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

export const ORDER_ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;
