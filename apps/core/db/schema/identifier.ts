import { varbinary } from "drizzle-orm/mysql-core";

/**
 * An identifier column (sale, order, user, event, provider transaction id, ...): VARBINARY, so
 * MySQL compares it byte by byte whatever the database's default collation. A VARCHAR inherits
 * that default: `utf8mb4_general_ci` makes `Ann-7` = `ann-7`, and every PAD SPACE collation
 * (`utf8mb4_bin` included, on MariaDB 10.11 and MySQL 8 alike) makes `Promo-1 ` = `Promo-1`.
 * The byte-exact NO PAD collations differ by server (`utf8mb4_nopad_bin` on MariaDB,
 * `utf8mb4_0900_bin` on MySQL 8; neither knows the other's), while VARBINARY is byte-exact
 * and NO PAD on both. Values are UTF-8 strings in and out (drizzle decodes the Buffer);
 * `bytes` is a length in bytes, so a Unicode id of n characters needs up to 4n.
 */
export const identifier = (name: string, bytes: number) => varbinary(name, { length: bytes });
