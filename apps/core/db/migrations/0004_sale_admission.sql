ALTER TABLE `sales` ADD `admission` enum('open','pass','queue') DEFAULT 'open' NOT NULL;--> statement-breakpoint
ALTER TABLE `sales` ADD `pow_difficulty_bits` tinyint unsigned DEFAULT 16 NOT NULL;--> statement-breakpoint
ALTER TABLE `sales` ADD `inlet_per_second` int unsigned DEFAULT 50 NOT NULL;--> statement-breakpoint
ALTER TABLE `sales` ADD `admission_window_seconds` int unsigned DEFAULT 120 NOT NULL;--> statement-breakpoint
ALTER TABLE `sales` ADD `queue_seed` char(64);