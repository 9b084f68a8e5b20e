import { defineConfig } from "drizzle-kit";

// The loyalty ledger's own migrations: `npx drizzle-kit generate --config apps/loyalty/drizzle.config.ts`.
// Applied by apps/loyalty/db/migrate.ts with a journal table of their own (__loyalty_migrations).
export default defineConfig({
  dialect: "mysql",
  schema: "./apps/loyalty/db/schema.ts",
  out: "./apps/loyalty/db/migrations",
});
