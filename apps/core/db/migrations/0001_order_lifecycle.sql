ALTER TABLE `orders` ADD `slot` tinyint unsigned DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `orders` ADD `released_at` datetime(3);--> statement-breakpoint
CREATE INDEX `orders_release_owed` ON `orders` (`released_at`,`closed_at`);