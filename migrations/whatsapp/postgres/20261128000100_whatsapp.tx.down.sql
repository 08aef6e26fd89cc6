DROP TABLE IF EXISTS whatsapp_media;
--bun:split
DROP TABLE IF EXISTS whatsapp_sessions;
