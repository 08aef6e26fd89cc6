-- A send that failed and will be retried waits in the queue until next_attempt_at instead of
-- holding its session's sender: later messages to other chats go on meanwhile.
ALTER TABLE messages ADD COLUMN next_attempt_at timestamptz;
--bun:split
-- Claims skip a chat whose earlier message waits for a retry: the few rows waiting are found
-- through this index, not by walking the session's queue.
CREATE INDEX IF NOT EXISTS messages_retry_wait_idx ON messages (session_id, chat_id, created_at) WHERE status = 'queued' AND next_attempt_at IS NOT NULL;
