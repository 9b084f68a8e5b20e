import type { Config } from "../core/config.js";

/**
 * Where `npm run pay` sends the callback: `--url` when given, else the local platform on
 * HOST:PORT (a wildcard HOST such as 0.0.0.0 means "this machine", so 127.0.0.1).
 * Returns the base URL and a phrase saying where it came from, for the line the tool prints.
 */
export function paymentTarget(config: Pick<Config, "HOST" | "PORT">, url?: string): { baseUrl: string; source: string } {
  if (url) return { baseUrl: url.replace(/\/+$/, ""), source: "--url" };
  const wildcard = config.HOST === "0.0.0.0" || config.HOST === "::" || config.HOST === "";
  const host = wildcard ? "127.0.0.1" : config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST;
  return { baseUrl: `http://${host}:${config.PORT}`, source: `PORT=${config.PORT}` };
}
