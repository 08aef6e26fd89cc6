-- The problem type (core.Problem*) of a failed message's error: clients tell failures apart by
-- it, never by the error's text.
ALTER TABLE messages ADD COLUMN error_type text;
