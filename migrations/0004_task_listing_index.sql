-- Listing a user's tasks newest first is the most common query; this index answers it
-- (and keyset pagination over it) without sorting.

CREATE INDEX task_user_created_idx ON task (user_id, created_at DESC, id DESC);
