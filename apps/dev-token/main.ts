import { signUserToken } from "../core/jwt.js";
import { readTokenRequest } from "./options.js";

/**
 * Prints a development user token on stdout (nothing else, so `TOKEN=$(npm run -s token -- ann)`
 * works); notes go to stderr:
 *   npm run token -- <userId> [--ttl 1h]
 */
const request = readTokenRequest(process.argv.slice(2), process.env);
if ("error" in request) {
  process.stderr.write(`${request.error}\n`);
  process.exit(2);
}
const token = await signUserToken(request.secret, request.userId, request.ttlSeconds, request.claims);
const expires = new Date(Date.now() + request.ttlSeconds * 1000).toISOString();
process.stderr.write(
  `token for user ${request.userId}, expires ${expires}, signed with ${request.devSecret ? "the development JWT_SECRET" : "JWT_SECRET from the environment"}\n`,
);
process.stdout.write(`${token}\n`);
