import type { Context } from "hono";
import { incomingOf, requestHeader } from "../core/http.js";

/**
 * The client's address for IP-based decisions. X-Forwarded-For is written by every proxy on the
 * way (each appends the address it received from), so only the last `trustedHops` entries were
 * written by proxies we run; the entry just before them is the client. Anything further left was
 * supplied by the client itself and is ignored. With no trusted hops, the socket address counts.
 */
export function clientIp(socketAddress: string | undefined, forwardedFor: string | undefined, trustedHops: number): string | undefined {
  if (trustedHops <= 0 || !forwardedFor) return socketAddress;
  const chain = forwardedFor
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  // The socket peer is the nearest proxy; the XFF entries it and the proxies before it appended follow.
  const index = chain.length - trustedHops;
  return index >= 0 ? chain[index] : chain[0];
}

/** The client's address of a request (clientIp over the TCP peer and X-Forwarded-For); undefined in-process without a trusted XFF. */
export function requestClientIp(c: Context, trustedHops: number): string | undefined {
  return clientIp(incomingOf(c)?.socket?.remoteAddress, requestHeader(c, "x-forwarded-for"), trustedHops);
}
