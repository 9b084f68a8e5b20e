import { type Config, defaultSecretsInUse } from "../core/config.js";
import { signUserToken } from "../core/jwt.js";

/**
 * Which secrets the start-up banner may print: only development defaults (public anyway, in
 * .env.example), never with NODE_ENV=production. A demo user token is signed only while
 * JWT_SECRET is the development default and no identity provider is configured: with an
 * operator's secret, a printed token would be a real 24-hour credential in the logs.
 */
export function printableSecrets(config: Config): { adminToken?: string; demoUserToken: boolean } {
  if (config.NODE_ENV === "production") return { demoUserToken: false };
  const dev = defaultSecretsInUse(config);
  return {
    adminToken: dev.includes("ADMIN_TOKEN") ? config.ADMIN_TOKEN : undefined,
    demoUserToken: dev.includes("JWT_SECRET") && !config.JWT_JWKS_URL,
  };
}

/** What `npm start` prints once ready: how to buy the demo item by hand. */
export async function readyBanner(config: Config, base: string, saleId: string): Promise<string> {
  const may = printableSecrets(config);
  const token = may.demoUserToken
    ? await signUserToken(config.JWT_SECRET, "demo-user-1", 24 * 3600)
    : config.JWT_JWKS_URL
      ? "<a user token from your identity provider>"
      : "<a user token signed with your JWT_SECRET>";
  const admin = may.adminToken ?? "$ADMIN_TOKEN";
  return (
    `\nReady. Buy the demo item:\n` +
    `  TOKEN=${token}\n` +
    `  curl -s ${base}/api/sales/${saleId}\n` +
    `  curl -s -X POST -H "Authorization: Bearer $TOKEN" ${base}/api/sales/${saleId}/orders\n` +
    `  curl -s -H "Authorization: Bearer $TOKEN" ${base}/api/orders/<orderId>\n` +
    `  npm run pay -- <orderId>            # the provider's signed callback: the order becomes paid\n` +
    `  curl -s -H "Authorization: Bearer ${admin}" ${base}/admin/sales/${saleId}/stats\n\n`
  );
}
