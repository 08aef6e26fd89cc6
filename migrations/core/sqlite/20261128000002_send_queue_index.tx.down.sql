DROP INDEX IF EXISTS messages_send_queue_idx;
