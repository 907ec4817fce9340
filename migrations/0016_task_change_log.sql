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
--
-- Only additions, each safe to run again, none holding a lock for long: the release still
-- running during a rolling upgrade writes tasks as before, and its writes are logged too.
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE IF NOT EXISTS task_change (
    user_id BIGINT NOT NULL,
    task_id BIGINT NOT NULL,
    xid XID8 NOT NULL DEFAULT pg_current_xact_id(),
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The indexes are built on the new, empty table, before any trigger writes to it: nothing
-- waits for them (and CONCURRENTLY cannot run in a migration's transaction).
-- A reader's rows: one user's, from the oldest transaction its snapshot did not see.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX IF NOT EXISTS task_change_user_xid_idx ON task_change (user_id, xid);
-- Pruning the oldest rows.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX IF NOT EXISTS task_change_changed_at_idx ON task_change (changed_at);

-- One row: rows of transactions up to `pruned_through` may be gone (pruned after the
-- retention, or never written: TRUNCATE removes tasks without rows of their own). A position
-- whose snapshot might not have seen one of them cannot be caught up from the log.
CREATE TABLE IF NOT EXISTS task_change_horizon (
    only_row BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
    pruned_through XID8 NOT NULL
);
INSERT INTO task_change_horizon (pruned_through) VALUES ('0'::xid8) ON CONFLICT DO NOTHING;

-- One row: until when some instance has an event stream open and listens on
-- `task_changed`. Writers announce changes only before then: a transaction that has sent a
-- notification takes a lock that serialises commits database-wide, so announcing changes
-- that nobody hears would make every write pay for streams nobody has open. An instance
-- sets it when it starts listening (`task_change_listen()`) and renews it while it keeps
-- streams open.
CREATE TABLE IF NOT EXISTS task_change_listening (
    only_row BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
    until TIMESTAMPTZ NOT NULL
);
INSERT INTO task_change_listening (until) VALUES ('-infinity') ON CONFLICT DO NOTHING;

-- Sets the lease to an hour from now, unless more than 50 minutes are left, and answers
-- with it. When no lease is in force, writers that found none may not have committed yet:
-- the table lock waits for them (each holds its read's lock until it commits) and holds
-- new ones until the lease commits, so every change committed after this returns is
-- either announced or visible to a read that starts after it. The caller has to be
-- listening already.
CREATE OR REPLACE FUNCTION task_change_listen() RETURNS TIMESTAMPTZ
LANGUAGE plpgsql AS $$
DECLARE
    lease TIMESTAMPTZ;
BEGIN
    SELECT until INTO lease FROM task_change_listening;
    IF lease > now() + interval '50 minutes' THEN
        RETURN lease;
    END IF;
    IF lease IS NULL OR lease <= now() + interval '1 minute' THEN
        PERFORM set_config('lock_timeout', '1s', true);
        LOCK TABLE task_change_listening IN ACCESS EXCLUSIVE MODE;
    END IF;
    INSERT INTO task_change_listening (until) VALUES (now() + interval '1 hour')
    ON CONFLICT (only_row)
    DO UPDATE SET until = greatest(task_change_listening.until, excluded.until)
    RETURNING until INTO lease;
    RETURN lease;
END
$$;

-- Once per statement, with the rows it changed. A task moved to another user is gone for
-- the old owner and new for the new one: both are touched. While an instance listens (the
-- lease above), each owner is announced on `task_changed` (delivered at commit, never for
-- a rollback) so instances with open event streams read what changed.
CREATE OR REPLACE FUNCTION task_change_log() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
    heard BOOLEAN := EXISTS (SELECT 1 FROM task_change_listening WHERE until > now());
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO task_change (user_id, task_id) SELECT user_id, id FROM new_rows;
        IF heard THEN
            PERFORM pg_notify('task_changed', user_id::text)
            FROM (SELECT DISTINCT user_id FROM new_rows ORDER BY user_id) AS owners;
        END IF;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO task_change (user_id, task_id)
        SELECT user_id, id FROM new_rows
        UNION SELECT user_id, id FROM old_rows;
        IF heard THEN
            PERFORM pg_notify('task_changed', user_id::text)
            FROM (SELECT user_id FROM new_rows UNION SELECT user_id FROM old_rows
                  ORDER BY user_id) AS owners;
        END IF;
    ELSE
        INSERT INTO task_change (user_id, task_id) SELECT user_id, id FROM old_rows;
        IF heard THEN
            PERFORM pg_notify('task_changed', user_id::text)
            FROM (SELECT DISTINCT user_id FROM old_rows ORDER BY user_id) AS owners;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER task_change_inserted
    AFTER INSERT ON task REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_change_log();
CREATE OR REPLACE TRIGGER task_change_updated
    AFTER UPDATE ON task REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_change_log();
CREATE OR REPLACE TRIGGER task_change_deleted
    AFTER DELETE ON task REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_change_log();

-- TRUNCATE names no rows: every position from before it has to start over. The empty
-- payload tells instances to check every open stream.
CREATE OR REPLACE FUNCTION task_change_truncated() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE task_change_horizon
    SET pruned_through = greatest(pruned_through, pg_current_xact_id());
    PERFORM pg_notify('task_changed', '');
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER task_change_truncated
    AFTER TRUNCATE ON task
    FOR EACH STATEMENT EXECUTE FUNCTION task_change_truncated();
