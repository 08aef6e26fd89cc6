ALTER TABLE webhook_endpoints DROP COLUMN retired_at;
