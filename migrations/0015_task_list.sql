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

CREATE FUNCTION task_list_changed() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.user_id = OLD.user_id THEN
        PERFORM task_list_moved(NEW.user_id, 0);
        RETURN NULL;
    END IF;
    -- Tasks deleted with their user: the row goes too, or a user given the same id later
    -- would start at its version. Without one, their lists are read every time until their
    -- first task gives them a new version.
    IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM "user" WHERE id = OLD.user_id) THEN
        DELETE FROM task_list WHERE user_id = OLD.user_id;
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM task_list_moved(OLD.user_id, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM task_list_moved(NEW.user_id, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER task_list_changed
    AFTER INSERT OR UPDATE OR DELETE ON task
    FOR EACH ROW EXECUTE FUNCTION task_list_changed();

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
