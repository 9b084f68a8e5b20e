import { migrateDatabase } from "../../core/db/client.js";
import { fromRoot } from "../../core/paths.js";

// From the project root, not this module: the same path holds from the .ts source and from the build under dist/.
const FOLDER = fromRoot("apps/loyalty/db/migrations/");

/** Applies the ledger's own migrations (journal table __loyalty_migrations, beside the platform's). */
export function migrateLoyalty(databaseUrl: string): Promise<void> {
  return migrateDatabase(databaseUrl, { folder: FOLDER, table: "__loyalty_migrations" });
}
