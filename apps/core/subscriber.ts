import type { Logger } from "./logger.js";
import { duplicateClient, type Redis } from "./redis.js";

/**
 * A process's Redis pub/sub listener: one subscribed connection, duplicated from `redis` at
 * start() (a subscribed connection can send nothing else), for every broadcast the process
 * hears (sold-out, restock, sale changed), each channel with its handler. Works on one Redis
 * and on a Redis Cluster (ioredis moves a cluster's subscription when its node goes away).
 *
 * Handlers are registered before start(). ioredis resubscribes after a reconnect; the
 * `onReconnect` handlers run then (not at the first connect), since messages may have been
 * missed meanwhile. Best effort, as pub/sub is: nothing is kept for a listener that is away.
 */
export function createSubscriber(redis: Redis, logger: Logger) {
  const handlers = new Map<string, (message: string) => void>();
  const reconnected: (() => void)[] = [];
  let connection: Redis | undefined;
  return {
    /** Calls `handler` with each message published on `channel`. */
    on(channel: string, handler: (message: string) => void): void {
      handlers.set(channel, handler);
    },
    onReconnect(handler: () => void): void {
      reconnected.push(handler);
    },
    async start(): Promise<void> {
      if (connection || handlers.size === 0) return;
      const sub = duplicateClient(redis);
      connection = sub;
      sub.on("message", (channel: string, message: string) => handlers.get(channel)?.(message));
      let connectedBefore = false;
      sub.on("ready", () => {
        if (connectedBefore) {
          logger.info({ channels: [...handlers.keys()] }, "Redis subscriber reconnected: broadcasts sent meanwhile may have been missed");
          for (const handler of reconnected) handler();
        }
        connectedBefore = true;
      });
      await sub.subscribe(...handlers.keys());
    },
    stop(): void {
      connection?.disconnect();
      connection = undefined;
    },
  };
}

export type Subscriber = ReturnType<typeof createSubscriber>;
