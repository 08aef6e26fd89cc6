-- The attachment of an accepted outgoing message, fetched (or received inline) when the API
-- accepted it: apart from the message row, so that claiming a batch of queued messages does not
-- read megabytes, and the send never depends on the URL any more.
CREATE TABLE IF NOT EXISTS message_media (
    session_id text NOT NULL,
    message_id text NOT NULL,
    mime_type  text NOT NULL,
    file_name  text,
    data       bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (session_id, message_id),
    FOREIGN KEY (session_id, message_id) REFERENCES messages (session_id, id) ON DELETE CASCADE
);
