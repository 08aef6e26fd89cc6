ALTER TABLE messages DROP COLUMN error_type;
