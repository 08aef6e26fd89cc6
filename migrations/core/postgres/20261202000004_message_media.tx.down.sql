DROP TABLE IF EXISTS message_media;
