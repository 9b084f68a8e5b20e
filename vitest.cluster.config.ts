import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

/**
 * The cluster variant (`npm run test:cluster`): the integration tests that cross Redis most,
 * run on the local Redis cluster (3 masters + 3 replicas, started or reused by the global setup)
 * instead of one server, plus the cluster-only tests in test/cluster/ (failover, buckets across
 * masters). Same files, same assertions: only where Redis is changes.
 */
// The global setup (which starts or reuses the cluster) runs in this process, where `test.env`
// below does not reach: without this line the integration files ran on one Redis server.
process.env.TEST_REDIS_MODE = "cluster";

export default defineConfig({
  test: {
    ...base.test,
    include: [
      "test/integration/reserve-script.test.ts",
      "test/integration/purchase-flow.test.ts",
      "test/integration/reconcile.test.ts",
      "test/integration/stock-buckets.test.ts",
      "test/integration/stock-buckets-crowd.test.ts",
      "test/integration/sale-patch-lost-bucket.test.ts",
      "test/integration/sale-changed.test.ts",
      "test/integration/queue-buckets.test.ts",
      "test/cluster/**/*.test.ts",
    ],
    exclude: [],
    env: { TEST_REDIS_MODE: "cluster" },
  },
});
