DROP TABLE IF EXISTS whatsappcloud_media;
--bun:split
DROP TABLE IF EXISTS whatsappcloud_customers;
--bun:split
DROP TABLE IF EXISTS whatsappcloud_notifications;
--bun:split
DROP TABLE IF EXISTS whatsappcloud_messages;
--bun:split
DROP TABLE IF EXISTS whatsappcloud_sessions;
