-- The hub's remote mode over webhooks: the gateway's webhook ids already taken in, so that a
-- redelivery (a retry, a catch-up) is not applied twice.
CREATE TABLE IF NOT EXISTS hub_gateway_events (
    webhook_id  text NOT NULL PRIMARY KEY,
    received_at timestamp NOT NULL
);
--bun:split
CREATE INDEX IF NOT EXISTS hub_gateway_events_received ON hub_gateway_events (received_at);
