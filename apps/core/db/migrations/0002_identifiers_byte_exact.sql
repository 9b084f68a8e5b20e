-- Identifier columns become VARBINARY: byte-exact and NO PAD on MariaDB and MySQL alike, whatever
-- the database's default collation (see apps/core/db/schema/identifier.ts). One ALTER per table,
-- so each table is rebuilt once; the bytes of every row are kept as they are.
ALTER TABLE `orders` MODIFY COLUMN `id` varbinary(32) NOT NULL, MODIFY COLUMN `sale_id` varbinary(64) NOT NULL, MODIFY COLUMN `user_id` varbinary(64) NOT NULL;--> statement-breakpoint
ALTER TABLE `payments` MODIFY COLUMN `provider_txn_id` varbinary(512) NOT NULL, MODIFY COLUMN `event_id` varbinary(512) NOT NULL, MODIFY COLUMN `order_id` varbinary(32) NOT NULL;--> statement-breakpoint
ALTER TABLE `sales` MODIFY COLUMN `id` varbinary(64) NOT NULL;
