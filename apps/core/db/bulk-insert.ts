import { getTableColumns, getTableName } from "drizzle-orm";
import type { MySqlTable } from "drizzle-orm/mysql-core";
import type { ResultSetHeader } from "mysql2";
import type { PoolConnection } from "mysql2/promise";

/** What mysql2 writes for a value the row leaves out: the column's own default, as drizzle does. */
const DEFAULT = { toSqlString: () => "DEFAULT" };

/**
 * A multi-row INSERT of `table`'s `keys` columns, built once: the statement is
 * `INSERT INTO t (c1, c2, ...) VALUES ?` and mysql2 expands the one placeholder into the rows,
 * escaped client-side (the same escaping drizzle's inserts get, through the same driver).
 * Values go through each column's own `mapToDriverValue` (a Date to `YYYY-MM-DD hh:mm:ss.sss`
 * UTC for a datetime), and a key a row leaves undefined gets the column's DEFAULT: the row
 * reaches MySQL exactly as `db.insert(table).values(rows)` sends it.
 *
 * Why not drizzle's builder: it makes one SQL chunk and one parameter per value and walks them
 * all with `is()` checks; for the order writer's 500-row batches that was the larger part of its
 * CPU (see `npm run bench:writer`). Columns left out must have no `$defaultFn`/`$onUpdateFn`
 * (drizzle would fill those in; this would not): construction throws if one does; a row with a
 * field outside `keys` throws too, rather than losing it.
 */
export function bulkInsert<T extends MySqlTable>(table: T, keys: readonly (keyof T["$inferInsert"] & string)[]) {
  const columns = getTableColumns(table);
  for (const [key, column] of Object.entries(columns)) {
    if (!keys.includes(key as never) && (column.defaultFn || column.onUpdateFn))
      throw new Error(`bulkInsert(${getTableName(table)}): column ${key} has a $defaultFn/$onUpdateFn and must be among the keys`);
  }
  const picked = keys.map((k) => columns[k]);
  const known = new Set<string>(keys);
  const statement = `INSERT INTO \`${getTableName(table)}\` (${picked.map((c) => `\`${c.name}\``).join(", ")}) VALUES ?`;
  return {
    statement,
    /** The rows as mysql2 values, one array per row in `keys` order. */
    values(rows: readonly T["$inferInsert"][]): unknown[][] {
      // A field the keys miss would be dropped silently (drizzle would write it): refuse, on the
      // first row (rows of one batch come from one constructor).
      for (const k in rows[0]) {
        if (!known.has(k)) throw new Error(`bulkInsert(${getTableName(table)}): row field ${k} is not among the keys; add it`);
      }
      return rows.map((row) =>
        picked.map((column, i) => {
          const v = (row as Record<string, unknown>)[keys[i]];
          return v === undefined ? DEFAULT : v === null ? null : column.mapToDriverValue(v);
        }),
      );
    },
    /** Inserts the rows on `conn` (inside the caller's transaction, if it has one); empty is a no-op. MySQL errors propagate as mysql2 throws them (errno, sqlMessage). */
    async run(conn: Pick<PoolConnection, "query">, rows: readonly T["$inferInsert"][]): Promise<ResultSetHeader | undefined> {
      if (rows.length === 0) return undefined;
      const [result] = await conn.query<ResultSetHeader>(statement, [this.values(rows)]);
      return result;
    },
  };
}
