import { createServer, type Server } from "node:http";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApi } from "../../apps/api/app.js";
import { signUserToken } from "../../apps/core/jwt.js";
import { listen } from "../../apps/core/serve.js";
import type { Services } from "../../apps/core/services.js";
import { createGateway, type Gateway } from "../../apps/gateway/app.js";
import { createAuthenticator } from "../../apps/gateway/auth.js";
import { testServices } from "../helpers/env.js";
import { deferred, eventually } from "../helpers/wait.js";

/**
 * User tokens from a real identity provider: RS256/ES256, verified with the provider's key set
 * (JWKS) served here by the test, through the gateway on a real listener.
 */
const ISSUER = "https://idp.example/";
const AUDIENCE = "seckill";

type Key = { kid: string; alg: "RS256" | "ES256"; privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"]; jwk: JWK };
async function newKey(kid: string, alg: Key["alg"]): Promise<Key> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

/** The identity provider's JWKS endpoint: the keys it publishes, how often it was asked, and a switch to make it hang. */
const idp = {
  keys: [] as Key[],
  fetches: 0,
  hang: undefined as ReturnType<typeof deferred<void>> | undefined,
  server: undefined as Server | undefined,
  url: "",
};

let services: Services;
let gateway: Gateway;
let http: Awaited<ReturnType<typeof listen>>;
let rsa: Key;
let ec: Key;

beforeAll(async () => {
  rsa = await newKey("rsa-1", "RS256");
  ec = await newKey("ec-1", "ES256");
  idp.keys = [rsa, ec];
  idp.server = createServer(async (_req, res) => {
    idp.fetches++;
    if (idp.hang) await idp.hang.promise;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: idp.keys.map((k) => k.jwk) }));
  });
  await new Promise<void>((r) => idp.server!.listen(0, "127.0.0.1", r));
  const address = idp.server.address();
  idp.url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/.well-known/jwks.json`;

  services = await testServices({ JWT_JWKS_URL: idp.url, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
  const api = createApi({ services, handoff: { relayIntervalMs: 600_000 } });
  // A short cooldown so the test can rotate keys more than once a minute (30 s in production).
  const authenticate = createAuthenticator({
    secret: services.config.JWT_SECRET,
    jwksUrl: idp.url,
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksCooldownMs: 1500,
    logger: services.logger,
  });
  gateway = createGateway({ services, apiFetch: api.app.fetch, authenticate, soldOutRefreshMs: 600_000 });
  await Promise.all([api.start(), gateway.start()]);
  http = await listen(gateway.app, "127.0.0.1", 0);
}, 60_000);
afterAll(async () => {
  idp.hang?.resolve();
  await http?.close();
  await gateway?.stop();
  await services?.close();
  idp.server?.closeAllConnections();
  idp.server?.close();
});

const tokenOf = (key: Key, claims: Record<string, unknown> = {}, sub = "idp-user-1") =>
  new SignJWT({ sub, ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(key.privateKey);

/** 404 order_not_found means the gateway took the token (the user has no such order); 401 means it did not. */
const ask = (token: string, scheme = "Bearer") =>
  fetch(`http://127.0.0.1:${http.port}/api/orders/01JAAAAAAAAAAAAAAAAAAAAAAA`, { headers: { authorization: `${scheme} ${token}` } }).then(
    (r) => r.status,
  );

describe("user tokens from an identity provider (JWT_JWKS_URL)", () => {
  it("accepts RS256 and ES256 tokens from the key set, fetched once at start", async () => {
    expect(idp.fetches).toBe(1);
    expect(await ask(await tokenOf(rsa))).toBe(404);
    expect(await ask(await tokenOf(ec, {}, "idp-user-2"), "bearer")).toBe(404);
    expect(idp.fetches).toBe(1);
  });

  it("refuses another issuer or audience, a token without exp, and HS256 tokens signed with JWT_SECRET", async () => {
    const other = await new SignJWT({ sub: "u" })
      .setProtectedHeader({ alg: "RS256", kid: rsa.kid })
      .setIssuer("https://evil.example/")
      .setAudience(AUDIENCE)
      .setExpirationTime("10m")
      .sign(rsa.privateKey);
    expect(await ask(other)).toBe(401);
    const wrongAudience = await new SignJWT({ sub: "u" })
      .setProtectedHeader({ alg: "RS256", kid: rsa.kid })
      .setIssuer(ISSUER)
      .setAudience("another-service")
      .setExpirationTime("10m")
      .sign(rsa.privateKey);
    expect(await ask(wrongAudience)).toBe(401);
    const noExp = await new SignJWT({ sub: "u" })
      .setProtectedHeader({ alg: "ES256", kid: ec.kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .sign(ec.privateKey);
    expect(await ask(noExp)).toBe(401);
    expect(await ask(await signUserToken(services.config.JWT_SECRET, "hs-user"))).toBe(401);
  });

  it("a token signed with a key the gateway has not seen makes it fetch the key set again, and is accepted; a flood of unknown keys does not flood the provider", async () => {
    const rotated = await newKey("rsa-2", "RS256");
    const stranger = await newKey("nobody", "ES256");
    const strangers = await Promise.all(Array.from({ length: 20 }, (_, i) => tokenOf(stranger, {}, `stranger-${i}`)));
    idp.keys = [rsa, ec, rotated];
    await new Promise((r) => setTimeout(r, 1600)); // past the cooldown
    const before = idp.fetches;
    expect(await ask(await tokenOf(rotated, {}, "rotated-user"))).toBe(404);
    expect(idp.fetches).toBe(before + 1);
    // Keys the provider does not publish either: refused; the cooldown (1.5 s here, 30 s by
    // default) lets at most one more fetch through for the lot.
    for (const t of strangers) expect(await ask(t)).toBe(401);
    expect(idp.fetches).toBeLessThanOrEqual(before + 2);
  });

  it("while the provider hangs on a refresh, tokens with a known key are still answered", async () => {
    await new Promise((r) => setTimeout(r, 1600)); // past the cooldown
    idp.hang = deferred<void>();
    const before = idp.fetches;
    const unknown = ask(await tokenOf(await newKey("rsa-3", "RS256"), {}, "waits"));
    await eventually("the refresh reached the provider, which hangs", () => idp.fetches === before + 1);
    let unknownDone = false;
    void unknown.then(() => {
      unknownDone = true;
    });
    // Fresh tokens (not in the verified cache) with known keys: verified without waiting for the fetch.
    expect(await ask(await tokenOf(rsa, {}, "known-1"))).toBe(404);
    expect(await ask(await tokenOf(ec, {}, "known-2"))).toBe(404);
    expect(unknownDone).toBe(false);
    idp.hang.resolve();
    idp.hang = undefined;
    expect(await unknown).toBe(401); // the provider never published rsa-3
  });
});
