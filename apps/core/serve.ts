import { type ServerType, serve } from "@hono/node-server";
import type { Hono } from "hono";
import type { AppEnv } from "./http.js";

/** Listens on host:port (0: any free port); resolves with the bound port once listening. */
export function listen(
  app: Hono<AppEnv>,
  host: string,
  port: number,
): Promise<{ server: ServerType; port: number; close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, (info) => {
      // Idle keep-alive connections outlive those of clients and load balancers (60 s is common),
      // so the server is never the one closing a socket a client is about to reuse.
      const http = server as unknown as { keepAliveTimeout: number; headersTimeout: number };
      http.keepAliveTimeout = 65_000;
      http.headersTimeout = 66_000;
      resolve({
        server,
        port: info.port,
        close: () =>
          new Promise<void>((res) => {
            server.close(() => res());
            // Idle keep-alive sockets would hold close() open until they time out.
            (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
          }),
      });
    });
    server.once("error", reject);
  });
}
