import { appendFileSync } from "node:fs";
import { bootstrap } from "../../apps/core/bootstrap.js";
import { listenOps } from "../../apps/core/ops-server.js";
import { createLifecycle } from "../../apps/lifecycle/worker.js";
import { standaloneStack } from "../../infra/stack.js";

/**
 * The lifecycle worker (apps/lifecycle/main.ts) with the relay's window between Kafka's ack and
 * the mark held open, for the chaos suite to SIGKILL it exactly there: after an acknowledged
 * batch it appends the batch's size to CHAOS_MARKER_FILE and waits a minute before marking.
 */
const marker = process.env.CHAOS_MARKER_FILE;
if (!marker) throw new Error("CHAOS_MARKER_FILE must name the file to signal the window on");
const { logger, services } = await bootstrap("seckill-lifecycle-chaos", standaloneStack);
const lifecycle = createLifecycle(services, {
  relay: {
    afterSend: async (events) => {
      appendFileSync(marker, `${events.length}\n`);
      await new Promise((r) => setTimeout(r, 60_000));
    },
  },
});
await lifecycle.start();
const http = await listenOps(services, ["redis", "mysql", "kafka"]);
logger.info({ metrics: `${http.url}/metrics` }, "ready (relay pauses after each send)");
