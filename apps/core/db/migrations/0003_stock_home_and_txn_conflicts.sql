CREATE TABLE `payment_conflicts` (
	`event_id` varbinary(512) NOT NULL,
	`provider_txn_id` varbinary(512) NOT NULL,
	`order_id` varbinary(32) NOT NULL,
	`first_order_id` varbinary(32) NOT NULL,
	`amount_cents` bigint unsigned NOT NULL,
	`status` varchar(16) NOT NULL,
	`received_at` datetime(3) NOT NULL,
	CONSTRAINT `payment_conflicts_event_id` PRIMARY KEY(`event_id`)
);
--> statement-breakpoint
ALTER TABLE `sales` ADD `stock_home_redis` varbinary(64);--> statement-breakpoint
ALTER TABLE `sales` ADD `stock_home_prefix` varbinary(255);--> statement-breakpoint
CREATE INDEX `payment_conflicts_txn` ON `payment_conflicts` (`provider_txn_id`);