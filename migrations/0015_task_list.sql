-- One row per user about their task list as a whole: its version and how many tasks it has.
--
-- Instances keep the lists they have served in memory, and must know, in the statement that
-- would read a list again, whether the user's tasks changed since. Every change to a user's
-- tasks, whoever makes it (this server, psql, the old backend), gives that user a new list
-- version, in the same transaction as the change: a snapshot sees the version and the rows
-- of one moment. Versions come from one sequence, so a version never comes back, even for a
-- row deleted and made again. A user without a row has no version, and their lists are
-- not kept: every user has one from here on, and a new user gets one with their first task.
--
-- `tasks` is how many tasks the user has, so that a create checks the quota by reading one
-- row instead of counting them all.
CREATE SEQUENCE task_list_version_seq;

-- No foreign key: the trigger below decides what happens to the row when its user goes.
CREATE TABLE task_list (
    user_id INTEGER PRIMARY KEY,
    version BIGINT NOT NULL,
    tasks INTEGER NOT NULL
);

-- A change to `owner`'s tasks that moves their count by `delta`. Without a row yet (or any
-- more), the row is made from a count of the tasks, this change included; when another
-- transaction made it first, it counted without this change.
CREATE FUNCTION task_list_moved(owner INTEGER, delta INTEGER) RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE task_list SET version = nextval('task_list_version_seq'), tasks = tasks + delta
    WHERE user_id = owner;
    IF NOT FOUND THEN
        INSERT INTO task_list (user_id, version, tasks)
        VALUES (owner, nextval('task_list_version_seq'),
                (SELECT count(*) FROM task WHERE user_id = owner))
        ON CONFLICT (user_id) DO UPDATE
        SET version = EXCLUDED.version, tasks = task_list.tasks + delta;
    END IF;
END
$$;

-- Once per statement, with the rows it changed: a statement that writes many tasks of one
-- user (a bulk insert, the deletion of their account) moves that user's row once, not once
-- per task. Users are taken in order, so two statements never wait for each other in a
-- circle.
CREATE FUNCTION task_list_changed() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM task_list_moved(user_id, count(*)::integer)
        FROM new_rows GROUP BY user_id ORDER BY user_id;
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM task_list_moved(user_id, sum(delta)::integer)
        FROM (SELECT user_id, 1 AS delta FROM new_rows
              UNION ALL SELECT user_id, -1 FROM old_rows) AS moved
        GROUP BY user_id ORDER BY user_id;
    ELSE
        -- Tasks deleted with their user: the row goes too, or a user given the same id
        -- later would start at its version. Without one, their lists are read every time
        -- until their first task gives them a new version.
        DELETE FROM task_list
        WHERE user_id IN (SELECT user_id FROM old_rows)
          AND NOT EXISTS (SELECT 1 FROM "user" WHERE id = task_list.user_id);
        PERFORM task_list_moved(user_id, -count(*)::integer)
        FROM old_rows
        WHERE EXISTS (SELECT 1 FROM "user" WHERE id = old_rows.user_id)
        GROUP BY user_id ORDER BY user_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER task_list_inserted
    AFTER INSERT ON task REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_list_changed();
CREATE TRIGGER task_list_updated
    AFTER UPDATE ON task REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_list_changed();
CREATE TRIGGER task_list_deleted
    AFTER DELETE ON task REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_list_changed();

INSERT INTO task_list (user_id, version, tasks)
SELECT u.id, nextval('task_list_version_seq'), (SELECT count(*) FROM task t WHERE t.user_id = u.id)
FROM "user" u;

-- TRUNCATE fires no row triggers: every version changes, also of users who are gone (their
-- ids may be given out again), every count is 0, and every user has a row.
CREATE FUNCTION task_list_truncated() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE task_list SET version = nextval('task_list_version_seq'), tasks = 0;
    INSERT INTO task_list (user_id, version, tasks)
    SELECT id, nextval('task_list_version_seq'), 0 FROM "user"
    ON CONFLICT (user_id) DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER task_list_truncated
    AFTER TRUNCATE ON task
    FOR EACH STATEMENT EXECUTE FUNCTION task_list_truncated();
