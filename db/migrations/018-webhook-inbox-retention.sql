-- The leader prunes webhook_deliveries (src/queue/prune-deliveries.ts): processed rows past the redelivery
-- window, oldest first, except each repository's newest delivery (the work loop reads its repository
-- fields). These indexes serve that pruning and the "newest delivery of this repository" reads.
CREATE INDEX webhook_deliveries_processed ON webhook_deliveries (received_at) WHERE processed_at IS NOT NULL;
CREATE INDEX webhook_deliveries_repository_newest ON webhook_deliveries (installation_id, repository, received_at DESC);
