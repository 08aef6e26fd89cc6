-- The send pipeline claims a session's oldest queued messages: a partial index holds only
-- those, so the claim does not walk a session's whole history.
CREATE INDEX IF NOT EXISTS messages_send_queue_idx ON messages (session_id, created_at, id) WHERE status = 'queued';
