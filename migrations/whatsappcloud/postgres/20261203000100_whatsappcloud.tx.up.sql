-- The Cloud API channel's own state. Secrets (access token, app secret, verify token) are sealed
-- with AES-256-GCM under whatsapp_cloud.encryption_key; the session id is their additional data.
CREATE TABLE IF NOT EXISTS whatsappcloud_sessions (
    id                   text NOT NULL PRIMARY KEY,
    phone_number_id      text NOT NULL,
    waba_id              text NOT NULL,
    display_phone_number text NOT NULL,
    verified_name        text NOT NULL,
    access_token         text NOT NULL,
    app_secret           text NOT NULL,
    verify_token         text NOT NULL,
    status               text NOT NULL,
    reason               text,
    created_at           timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at           timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    connected_at         timestamp
);
--bun:split
-- One session per business number: two would both answer its webhook.
CREATE UNIQUE INDEX IF NOT EXISTS whatsappcloud_sessions_phone ON whatsappcloud_sessions (phone_number_id);
--bun:split
-- The Graph API names a sent message by the wamid it assigns; the core by the id it accepted it
-- under. Statuses arrive by wamid. A row also makes a resend with the same id a no-op.
CREATE TABLE IF NOT EXISTS whatsappcloud_messages (
    session_id text NOT NULL REFERENCES whatsappcloud_sessions (id) ON DELETE CASCADE,
    message_id text NOT NULL,
    wamid      text NOT NULL,
    wa_id      text NOT NULL,
    created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (session_id, message_id)
);
--bun:split
CREATE INDEX IF NOT EXISTS whatsappcloud_messages_wamid ON whatsappcloud_messages (session_id, wamid);
--bun:split
-- Webhook notifications, stored before Meta is answered 200 and processed afterwards: an
-- identical replay (same digest) is stored once.
CREATE TABLE IF NOT EXISTS whatsappcloud_notifications (
    session_id   text NOT NULL REFERENCES whatsappcloud_sessions (id) ON DELETE CASCADE,
    digest       text NOT NULL,
    body         bytea NOT NULL,
    received_at  timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    processed_at timestamp,
    attempts     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, digest)
);
--bun:split
CREATE INDEX IF NOT EXISTS whatsappcloud_notifications_pending ON whatsappcloud_notifications (processed_at, received_at);
--bun:split
-- The customer-service window: when each customer last wrote (and the message, for the typing
-- indicator, which rides on a read receipt).
CREATE TABLE IF NOT EXISTS whatsappcloud_customers (
    session_id      text NOT NULL REFERENCES whatsappcloud_sessions (id) ON DELETE CASCADE,
    wa_id           text NOT NULL,
    last_inbound_at timestamp NOT NULL,
    last_wamid      text NOT NULL,
    PRIMARY KEY (session_id, wa_id)
);
--bun:split
-- Attachments of received messages: the Graph media id to download them by.
CREATE TABLE IF NOT EXISTS whatsappcloud_media (
    session_id text NOT NULL REFERENCES whatsappcloud_sessions (id) ON DELETE CASCADE,
    message_id text NOT NULL,
    media_id   text NOT NULL,
    mime_type  text NOT NULL,
    PRIMARY KEY (session_id, message_id)
);
