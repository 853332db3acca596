-- Webhook inbox: every delivery is recorded by its X-GitHub-Delivery id before any work is done. The body
-- is kept here so that jobs carry only ids and a collapsed job loses nothing.
CREATE TABLE webhook_deliveries (
  delivery_id text PRIMARY KEY,
  event text NOT NULL,
  action text,
  installation_id bigint,
  repository text,
  payload jsonb NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  duplicates integer NOT NULL DEFAULT 0,
  processed_at timestamptz,
  error text
);
CREATE INDEX webhook_deliveries_unprocessed ON webhook_deliveries (received_at) WHERE processed_at IS NULL;
