DROP INDEX IF EXISTS messages_retry_wait_idx;
--bun:split
ALTER TABLE messages DROP COLUMN next_attempt_at;
