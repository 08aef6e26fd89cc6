-- Webhook endpoints: the global one (id "global", no session) and per-session ones. Times are unix
-- milliseconds so that both dialects compare them the same way. The secrets sign deliveries, so
-- they are stored as issued; previous_secret stays valid until previous_secret_expires_at.
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id                         text NOT NULL PRIMARY KEY,
    session_id                 text,
    url                        text NOT NULL,
    events                     text NOT NULL DEFAULT '[]',
    headers                    text NOT NULL DEFAULT '{}',
    secret                     text NOT NULL,
    previous_secret            text,
    previous_secret_expires_at bigint,
    disabled_at                bigint,
    disabled_reason            text,
    failing_since              bigint,
    created_at                 bigint NOT NULL,
    updated_at                 bigint NOT NULL
);
--bun:split
CREATE INDEX IF NOT EXISTS webhook_endpoints_session_idx ON webhook_endpoints (session_id);
--bun:split
-- One row per (event, endpoint); seq orders deliveries of one (endpoint, session).
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        text NOT NULL,
    endpoint_id     text NOT NULL,
    session_id      text NOT NULL,
    event_type      text NOT NULL,
    payload         text NOT NULL,
    status          text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    round_attempts  integer NOT NULL DEFAULT 0,
    next_attempt_at bigint,
    last_status     integer,
    last_error      text,
    last_latency_ms double precision,
    created_at      bigint NOT NULL,
    updated_at      bigint NOT NULL
);
--bun:split
CREATE UNIQUE INDEX IF NOT EXISTS webhook_deliveries_event_endpoint_uq ON webhook_deliveries (event_id, endpoint_id);
--bun:split
CREATE INDEX IF NOT EXISTS webhook_deliveries_open_idx ON webhook_deliveries (endpoint_id, seq)
    WHERE status IN ('pending', 'retrying');
--bun:split
-- The log's time-range queries, range redelivery and pruning.
CREATE INDEX IF NOT EXISTS webhook_deliveries_created_idx ON webhook_deliveries (created_at, seq);
--bun:split
-- Every attempt, for the delivery log.
CREATE TABLE IF NOT EXISTS webhook_attempts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_seq    bigint NOT NULL REFERENCES webhook_deliveries (seq) ON DELETE CASCADE,
    attempt         integer NOT NULL,
    status_code     integer,
    latency_ms      double precision NOT NULL,
    error           text,
    next_attempt_at bigint,
    created_at      bigint NOT NULL
);
--bun:split
CREATE INDEX IF NOT EXISTS webhook_attempts_delivery_idx ON webhook_attempts (delivery_seq, attempt);
