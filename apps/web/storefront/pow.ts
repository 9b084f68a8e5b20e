/** Proof of work as the server checks it (apps/domain/admission/challenge.ts), with WebCrypto; no DOM needed. */

export function leadingZeroBits(digest: Uint8Array): number {
  let bits = 0;
  for (const byte of digest) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/**
 * The first nonce (as decimal digits) with SHA-256(prefix + nonce) starting with `bits` zero
 * bits. WebCrypto digests are asynchronous, so 64 are kept in flight at once.
 */
export async function solvePow(prefix: string, bits: number): Promise<string> {
  const encoder = new TextEncoder();
  for (let base = 0; ; base += 64) {
    const digests = await Promise.all(
      Array.from({ length: 64 }, (_, k) => crypto.subtle.digest("SHA-256", encoder.encode(prefix + String(base + k)))),
    );
    for (let k = 0; k < 64; k++) if (leadingZeroBits(new Uint8Array(digests[k])) >= bits) return String(base + k);
  }
}
