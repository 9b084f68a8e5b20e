import { fileURLToPath } from "node:url";
import { migrateDatabase } from "../../core/db/client.js";

const FOLDER = fileURLToPath(new URL("./migrations/", import.meta.url));

/** Applies the ledger's own migrations (journal table __loyalty_migrations, beside the platform's). */
export function migrateLoyalty(databaseUrl: string): Promise<void> {
  return migrateDatabase(databaseUrl, { folder: FOLDER, table: "__loyalty_migrations" });
}
