CREATE TABLE `order_events` (
	`seq` bigint unsigned AUTO_INCREMENT NOT NULL,
	`event_id` varbinary(32) NOT NULL,
	`type` varchar(32) NOT NULL,
	`order_id` varbinary(32) NOT NULL,
	`sale_id` varbinary(64) NOT NULL,
	`user_id` varbinary(64) NOT NULL,
	`amount_cents` bigint unsigned NOT NULL,
	`version` int unsigned NOT NULL,
	`occurred_at` datetime(3) NOT NULL,
	`queued_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`sent_at` datetime(3),
	CONSTRAINT `order_events_seq` PRIMARY KEY(`seq`),
	CONSTRAINT `order_events_order_version` UNIQUE(`order_id`,`version`)
);
--> statement-breakpoint
CREATE INDEX `order_events_unsent` ON `order_events` (`sent_at`,`seq`);--> statement-breakpoint
CREATE INDEX `order_events_sale` ON `order_events` (`sale_id`,`seq`);