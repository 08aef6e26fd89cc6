-- The WhatsApp channel's own session table: which whatsmeow device (JID) a session id runs on,
-- whether it ever paired, and its last terminal status, so that a restart restores exactly the
-- sessions that exist. Independent of the core sessions projection.
CREATE TABLE IF NOT EXISTS whatsapp_sessions (
    id           text NOT NULL PRIMARY KEY,
    -- The device JID (user.agent:device@s.whatsapp.net) once paired; NULL while waiting for a QR.
    jid          text,
    lid          text,
    push_name    text,
    status       text NOT NULL,
    reason       text,
    banned_until timestamp,
    created_at   timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at   timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    paired_at    timestamp
);
--bun:split
-- Media of received messages: the encrypted-media reference (the message proto) needed to
-- download the attachment later through the API.
CREATE TABLE IF NOT EXISTS whatsapp_media (
    session_id text NOT NULL REFERENCES whatsapp_sessions (id) ON DELETE CASCADE,
    message_id text NOT NULL,
    chat       text NOT NULL,
    media_type text NOT NULL,
    message    blob NOT NULL,
    created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (session_id, message_id)
);
