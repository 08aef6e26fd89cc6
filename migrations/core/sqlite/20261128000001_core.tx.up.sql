-- Sessions: one row per channel account session. Status values are core.SessionStatus.
CREATE TABLE IF NOT EXISTS sessions (
    id           text NOT NULL PRIMARY KEY,
    channel      text NOT NULL,
    status       text NOT NULL,
    -- The account's own address once paired (a phone-number JID for WhatsApp), its LID and phone.
    jid          text,
    lid          text,
    phone        text,
    push_name    text,
    -- Why the session last disconnected, failed or was logged out.
    reason       text,
    created_at   timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at   timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    paired_at    timestamp,
    connected_at timestamp,
    last_seen_at timestamp,
    banned_until timestamp
);
--bun:split
CREATE INDEX IF NOT EXISTS sessions_status_idx ON sessions (status);
--bun:split
-- Messages, both directions. Outbound rows are created queued by the API and moved through
-- sent -> delivered -> read (or failed) by the send pipeline and receipts. id is the channel's
-- message id, assigned before the first send attempt so that every retry reuses it; it is
-- unique per session only (two sessions of this gateway may see the same message).
CREATE TABLE IF NOT EXISTS messages (
    session_id      text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    id              text NOT NULL,
    chat_id         text NOT NULL,
    -- Who wrote it: this account for outbound, the other party (or group member) for inbound.
    sender          text,
    direction       text NOT NULL CHECK (direction IN ('in', 'out')),
    status          text NOT NULL,
    type            text NOT NULL,
    body            text,
    -- The whole request (outbound) or event (inbound), JSON.
    payload         text,
    idempotency_key text,
    -- Hash of the request that used idempotency_key: a replay with another body is refused.
    request_hash    text,
    error           text,
    attempts        integer NOT NULL DEFAULT 0,
    -- When a scheduled message is due; NULL sends immediately.
    send_at         timestamp,
    sent_at         timestamp,
    delivered_at    timestamp,
    read_at         timestamp,
    edited_at       timestamp,
    revoked_at      timestamp,
    created_at      timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at      timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (session_id, id)
);
--bun:split
CREATE UNIQUE INDEX IF NOT EXISTS messages_session_idempotency_key_uq
    ON messages (session_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
--bun:split
CREATE INDEX IF NOT EXISTS messages_session_created_idx ON messages (session_id, created_at, id);
--bun:split
-- The pipeline's recovery scan: accepted messages not yet sent.
CREATE INDEX IF NOT EXISTS messages_status_send_at_idx ON messages (status, send_at);
--bun:split
-- Contacts as each session's account sees them.
CREATE TABLE IF NOT EXISTS contacts (
    session_id  text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    jid         text NOT NULL,
    lid         text,
    phone       text,
    push_name   text,
    name        text,
    on_whatsapp boolean,
    updated_at  timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (session_id, jid)
);
--bun:split
CREATE INDEX IF NOT EXISTS contacts_session_lid_idx ON contacts (session_id, lid);
