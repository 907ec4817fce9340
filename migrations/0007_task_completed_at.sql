-- When a task became completed. Rows completed before this column existed get NULL: the
-- moment is unknown, and a guess would be a lie.
ALTER TABLE task ADD COLUMN completed_at TIMESTAMP;
