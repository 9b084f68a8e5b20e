CREATE TABLE `loyalty_balances` (
	`user_id` varbinary(64) NOT NULL,
	`points` bigint NOT NULL,
	CONSTRAINT `loyalty_balances_user_id` PRIMARY KEY(`user_id`)
);
--> statement-breakpoint
CREATE TABLE `loyalty_orders` (
	`order_id` varbinary(32) NOT NULL,
	`sale_id` varbinary(64) NOT NULL,
	`user_id` varbinary(64) NOT NULL,
	`status` varchar(20) NOT NULL,
	`version` int unsigned NOT NULL,
	`amount_cents` bigint unsigned NOT NULL,
	`points` bigint NOT NULL,
	`updated_at` datetime(3) NOT NULL,
	CONSTRAINT `loyalty_orders_order_id` PRIMARY KEY(`order_id`)
);
--> statement-breakpoint
CREATE TABLE `loyalty_processed_events` (
	`event_id` varbinary(64) NOT NULL,
	`order_id` varbinary(32) NOT NULL,
	`version` int unsigned NOT NULL,
	`outcome` varchar(16) NOT NULL,
	`processed_at` datetime(3) NOT NULL,
	CONSTRAINT `loyalty_processed_events_event_id` PRIMARY KEY(`event_id`)
);
