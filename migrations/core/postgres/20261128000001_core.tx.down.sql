DROP TABLE IF EXISTS contacts;
--bun:split
DROP TABLE IF EXISTS messages;
--bun:split
DROP TABLE IF EXISTS sessions;
