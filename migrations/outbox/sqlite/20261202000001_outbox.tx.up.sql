-- The transactional outbox (platform/outbox): messages to publish on the bus, written durably
-- before whoever produced them is told they are published, and kept until every consumer group
-- of their topic has acknowledged them, so that a broker that loses its data or a crash of this
-- process loses nothing. producer is the bus consumer name of the process that publishes them;
-- seq (never reused: AUTOINCREMENT) orders one producer's messages.
CREATE TABLE IF NOT EXISTS outbox (
    seq        integer PRIMARY KEY AUTOINCREMENT,
    producer   text NOT NULL,
    topic      text NOT NULL,
    uuid       text NOT NULL,
    -- The message's metadata as a JSON object of strings.
    metadata   text NOT NULL,
    payload    blob NOT NULL,
    -- Unix milliseconds.
    created_at bigint NOT NULL
);
--bun:split
CREATE INDEX IF NOT EXISTS outbox_producer_seq_idx ON outbox (producer, seq);
