import { defineConfig } from "drizzle-kit";

// Migrations are generated from the schema with `npm run db:generate` and committed;
// the platform applies them at start (apps/core/db/client.ts migrateDatabase).
export default defineConfig({
  dialect: "mysql",
  schema: "./apps/core/db/schema/*.ts",
  out: "./apps/core/db/migrations",
});
