CREATE TABLE `orders` (
	`id` varchar(32) NOT NULL,
	`sale_id` varchar(64) NOT NULL,
	`user_id` varchar(64) NOT NULL,
	`live_slot` tinyint unsigned,
	`quantity` int unsigned NOT NULL,
	`amount_cents` bigint unsigned NOT NULL,
	`status` varchar(20) NOT NULL,
	`created_at` datetime(3) NOT NULL,
	`persisted_at` datetime(3) NOT NULL,
	`pay_by` datetime(3) NOT NULL,
	`paid_at` datetime(3),
	`closed_at` datetime(3),
	CONSTRAINT `orders_id` PRIMARY KEY(`id`),
	CONSTRAINT `orders_sale_user_slot` UNIQUE(`sale_id`,`user_id`,`live_slot`)
);
--> statement-breakpoint
CREATE TABLE `payments` (
	`provider_txn_id` varchar(128) NOT NULL,
	`event_id` varchar(128) NOT NULL,
	`order_id` varchar(32) NOT NULL,
	`amount_cents` bigint unsigned NOT NULL,
	`status` varchar(16) NOT NULL,
	`outcome` varchar(20) NOT NULL,
	`received_at` datetime(3) NOT NULL,
	CONSTRAINT `payments_provider_txn_id` PRIMARY KEY(`provider_txn_id`),
	CONSTRAINT `payments_event_id` UNIQUE(`event_id`)
);
--> statement-breakpoint
CREATE TABLE `sales` (
	`id` varchar(64) NOT NULL,
	`title` varchar(200) NOT NULL,
	`price_cents` int unsigned NOT NULL,
	`total_stock` int unsigned NOT NULL,
	`starts_at` datetime(3) NOT NULL,
	`ends_at` datetime(3) NOT NULL,
	`payment_timeout_seconds` int unsigned NOT NULL DEFAULT 900,
	`per_user_limit` int unsigned NOT NULL DEFAULT 1,
	`created_at` datetime(3) NOT NULL,
	CONSTRAINT `sales_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE INDEX `orders_status_pay_by` ON `orders` (`status`,`pay_by`);--> statement-breakpoint
CREATE INDEX `orders_sale_status` ON `orders` (`sale_id`,`status`);--> statement-breakpoint
CREATE INDEX `payments_order_id` ON `payments` (`order_id`);