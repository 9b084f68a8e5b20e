ALTER TABLE `orders` MODIFY COLUMN `id` varbinary(32) NOT NULL;--> statement-breakpoint
ALTER TABLE `orders` MODIFY COLUMN `sale_id` varbinary(64) NOT NULL;--> statement-breakpoint
ALTER TABLE `orders` MODIFY COLUMN `user_id` varbinary(64) NOT NULL;--> statement-breakpoint
ALTER TABLE `payments` MODIFY COLUMN `provider_txn_id` varbinary(512) NOT NULL;--> statement-breakpoint
ALTER TABLE `payments` MODIFY COLUMN `event_id` varbinary(512) NOT NULL;--> statement-breakpoint
ALTER TABLE `payments` MODIFY COLUMN `order_id` varbinary(32) NOT NULL;--> statement-breakpoint
ALTER TABLE `sales` MODIFY COLUMN `id` varbinary(64) NOT NULL;