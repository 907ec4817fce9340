-- Instances keep the lists they have served in memory, and must know, in the statement that
-- would read a list again, whether the user's tasks changed since. Every change to a user's
-- tasks, whoever makes it (this server, psql, the old backend), gives that user a new list
-- version, in the same transaction as the change: a snapshot sees the version and the rows
-- of one moment. Versions come from one sequence, so a version never comes back, even for a
-- row deleted and made again. A user without a row has no version, and their lists are
-- not kept: every user has one from here on, and a new user gets one with their first task.
CREATE SEQUENCE task_list_version_seq;

-- No foreign key: the trigger below decides what happens to a version when its user goes.
CREATE TABLE task_list_version (
    user_id INTEGER PRIMARY KEY,
    version BIGINT NOT NULL
);

CREATE FUNCTION task_list_changed() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    -- Tasks deleted with their user: the version goes too, or a user given the same id
    -- later would start at it. Without one, their lists are read every time until their
    -- first task gives them a new version.
    IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM "user" WHERE id = OLD.user_id) THEN
        DELETE FROM task_list_version WHERE user_id = OLD.user_id;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO task_list_version (user_id, version)
        VALUES (OLD.user_id, nextval('task_list_version_seq'))
        ON CONFLICT (user_id) DO UPDATE SET version = EXCLUDED.version;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.user_id <> OLD.user_id) THEN
        INSERT INTO task_list_version (user_id, version)
        VALUES (NEW.user_id, nextval('task_list_version_seq'))
        ON CONFLICT (user_id) DO UPDATE SET version = EXCLUDED.version;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER task_list_changed
    AFTER INSERT OR UPDATE OR DELETE ON task
    FOR EACH ROW EXECUTE FUNCTION task_list_changed();

INSERT INTO task_list_version (user_id, version)
SELECT id, nextval('task_list_version_seq') FROM "user";

-- TRUNCATE fires no row triggers: every version changes, also of users who are gone (their
-- ids may be given out again), and every user has one.
CREATE FUNCTION task_list_truncated() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE task_list_version SET version = nextval('task_list_version_seq');
    INSERT INTO task_list_version (user_id, version)
    SELECT id, nextval('task_list_version_seq') FROM "user"
    ON CONFLICT (user_id) DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER task_list_truncated
    AFTER TRUNCATE ON task
    FOR EACH STATEMENT EXECUTE FUNCTION task_list_truncated();
