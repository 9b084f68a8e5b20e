import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Cluster-only tests (a Redis cluster of their own, failovers): npm run test:cluster.
    exclude: ["test/cluster/**", "**/node_modules/**"],
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two cores: more workers only add contention to Redis, MariaDB and the Kafka mock.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
