-- When a session is deleted its endpoints retire: they receive no new event, deliver what they
-- were already given (the session's last events: message_failed, session.status deleted,
-- disconnected), then are deleted. Unix milliseconds; NULL for a live endpoint.
ALTER TABLE webhook_endpoints ADD COLUMN retired_at bigint;
