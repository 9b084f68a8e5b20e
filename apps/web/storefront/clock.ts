/**
 * The server's clock as seen from the page: each sale read gives `serverTime` (plus the Age a
 * cache added); the offset from the sample with the shortest round trip wins, and the error is
 * at most half that round trip (Cristian's algorithm, 1989).
 */
export function createServerClock() {
  let offset = 0;
  let bestRtt = Number.POSITIVE_INFINITY;
  return {
    sample(serverTimeIso: string, ageSeconds: number, sentAt: number, receivedAt: number) {
      const rtt = receivedAt - sentAt;
      // A cached answer (Age > 0) is only known to the second: use it only until a fresh one comes.
      if (ageSeconds > 0 && bestRtt !== Number.POSITIVE_INFINITY) return;
      if (ageSeconds === 0 && rtt > bestRtt) return;
      if (ageSeconds === 0) bestRtt = rtt;
      offset = Date.parse(serverTimeIso) + ageSeconds * 1000 + rtt / 2 - receivedAt;
    },
    now: () => Date.now() + offset,
    get offsetMs() {
      return offset;
    },
  };
}

export function formatCountdown(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const two = (n: number) => String(n).padStart(2, "0");
  return hh > 0 ? `${hh}:${two(mm)}:${two(ss)}` : `${two(mm)}:${two(ss)}`;
}
