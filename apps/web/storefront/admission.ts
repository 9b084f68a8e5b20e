import { ApiError, call } from "../shared/http.js";
import { solvePow } from "./pow.js";

/**
 * Getting a purchase pass for sales whose admission is `pass` (a proof-of-work challenge) or
 * `queue` (the waiting room); an open sale needs none. See the README's "Admission".
 */
interface Challenge {
  challengeId: string;
  prefix: string;
  difficultyBits: number;
}
interface Place {
  state: "waiting" | "admitted" | "sold_out";
  position: number;
  estimatedWaitSeconds: number;
  pollAfterSeconds: number;
  pass?: string;
}

/** A pass for the sale, or undefined for an open sale. `say` tells the buyer what is happening. */
export async function admit(
  sale: { id: string; admission?: string },
  token: string,
  say: (msg: string) => void,
): Promise<string | undefined> {
  const base = `/api/sales/${encodeURIComponent(sale.id)}`;
  if (sale.admission === "pass") {
    say("Proving you are not a bot (a few seconds of work in your browser)…");
    const { data: challenge } = await call<Challenge>("GET", `${base}/challenge`, { token });
    const nonce = await solvePow(challenge.prefix, challenge.difficultyBits);
    const { data } = await call<{ pass: string }>("POST", `${base}/pass`, { token, body: { challengeId: challenge.challengeId, nonce } });
    return data.pass;
  }
  if (sale.admission === "queue") {
    let place = await patiently(() => call<Place>("POST", `${base}/queue`, { token }), say);
    for (;;) {
      if (place.state === "admitted" && place.pass) return place.pass;
      if (place.state === "sold_out") say(`Sold out for now; you keep place ${place.position} in case a unit comes back.`);
      else say(`In the waiting room: place ${place.position}, about ${place.estimatedWaitSeconds} s.`);
      await sleep(Math.max(1, place.pollAfterSeconds) * 1000);
      place = await patiently(() => call<Place>("GET", `${base}/queue`, { token }), say);
    }
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A waiting-room call that waits out 429 `rate_limited` and 503 (busy) and asks again, so the
 * buyer keeps the place: a queue call refused that way changed nothing. The wait is the answer's
 * Retry-After (1-60 s), else 1, 2, 4, 8 s, then 10 s; plus up to a quarter more at random,
 * so a crowd refused together does not come back together. Any other error ends the wait (thrown).
 */
async function patiently<T>(ask: () => Promise<{ data: T }>, say: (msg: string) => void): Promise<T> {
  for (let refused = 0; ; refused++) {
    try {
      return (await ask()).data;
    } catch (err) {
      if (!(err instanceof ApiError) || (err.status !== 429 && err.status !== 503)) throw err;
      // At most a minute: a proxy's Retry-After of hours must not park the buyer that long.
      const base = Math.min(60, Math.max(1, err.retryAfterSeconds ?? Math.min(10, 2 ** refused)));
      say(`The shop is busy; asking again in about ${base} s (you keep your place).`);
      await sleep(base * 1000 * (1 + Math.random() / 4));
    }
  }
}
