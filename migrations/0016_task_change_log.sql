-- Which tasks changed, and in which transaction, so that a client holding a copy of a
-- user's tasks can ask what changed since it last asked (`GET /api/{user}/tasks/changes`).
--
-- Every change to a task, whoever makes it (this server, psql, the old backend), leaves one
-- row per task and statement: the task's owner, its id and the id of the transaction
-- (`xid8`, which never wraps). The row says only that the task was touched: a reader answers
-- with the task as it is now, or with its id when it is gone, so the order rows are read in
-- and reading one twice cannot corrupt a client's copy.
--
-- A client's position is a snapshot (`pg_current_snapshot()` of the statement that read its
-- copy): the changes it has not seen are exactly the rows whose transaction is not visible
-- in that snapshot, whatever order transactions took their ids or committed in. A
-- transaction still running when a reader looks is invisible to the reader's new snapshot
-- too, so the next read finds it.
CREATE TABLE task_change (
    user_id INTEGER NOT NULL,
    task_id INTEGER NOT NULL,
    xid XID8 NOT NULL DEFAULT pg_current_xact_id(),
    changed_at TIMESTAMP NOT NULL DEFAULT timezone('utc', now())
);

-- A reader's rows: one user's, from the oldest transaction its snapshot did not see.
CREATE INDEX task_change_user_xid_idx ON task_change (user_id, xid);
-- Pruning the oldest rows.
CREATE INDEX task_change_changed_at_idx ON task_change (changed_at);

-- One row: rows of transactions up to `pruned_through` may be gone (pruned after the
-- retention, or never written: TRUNCATE removes tasks without rows of their own). A position
-- whose snapshot might not have seen one of them cannot be caught up from the log.
CREATE TABLE task_change_horizon (
    only_row BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
    pruned_through XID8 NOT NULL
);
INSERT INTO task_change_horizon (pruned_through) VALUES ('0'::xid8);

-- Once per statement, with the rows it changed. A task moved to another user is gone for
-- the old owner and new for the new one: both are touched. Each owner is announced on
-- `task_changed` (delivered at commit, never for a rollback) so instances with open event
-- streams read what changed.
CREATE FUNCTION task_change_log() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO task_change (user_id, task_id) SELECT user_id, id FROM new_rows;
        PERFORM pg_notify('task_changed', user_id::text)
        FROM (SELECT DISTINCT user_id FROM new_rows ORDER BY user_id) AS owners;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO task_change (user_id, task_id)
        SELECT user_id, id FROM new_rows
        UNION SELECT user_id, id FROM old_rows;
        PERFORM pg_notify('task_changed', user_id::text)
        FROM (SELECT user_id FROM new_rows UNION SELECT user_id FROM old_rows
              ORDER BY user_id) AS owners;
    ELSE
        INSERT INTO task_change (user_id, task_id) SELECT user_id, id FROM old_rows;
        PERFORM pg_notify('task_changed', user_id::text)
        FROM (SELECT DISTINCT user_id FROM old_rows ORDER BY user_id) AS owners;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER task_change_inserted
    AFTER INSERT ON task REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_change_log();
CREATE TRIGGER task_change_updated
    AFTER UPDATE ON task REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_change_log();
CREATE TRIGGER task_change_deleted
    AFTER DELETE ON task REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_change_log();

-- TRUNCATE names no rows: every position from before it has to start over. The empty
-- payload tells instances to check every open stream.
CREATE FUNCTION task_change_truncated() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE task_change_horizon
    SET pruned_through = greatest(pruned_through, pg_current_xact_id());
    PERFORM pg_notify('task_changed', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER task_change_truncated
    AFTER TRUNCATE ON task
    FOR EACH STATEMENT EXECUTE FUNCTION task_change_truncated();
