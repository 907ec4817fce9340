-- What the task API needs beyond the contract schema. All additive: the contract's columns
-- keep their meaning, so other readers of the table are unaffected.

-- due_date is free text as clients sent it ("2026-12-01" or an RFC 3339 date-time). due_at is
-- the same moment as a timestamp (UTC; a date means its start), so filters and sorting work.
-- A trigger derives it, whoever writes the row; text that does not parse gives NULL.
ALTER TABLE task ADD COLUMN due_at TIMESTAMP;

-- Incremented on every update: the task's ETag, for conditional requests.
ALTER TABLE task ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

-- Set when completing this task created its next occurrence, so it is created only once
-- however often the task is toggled.
ALTER TABLE task ADD COLUMN next_occurrence_created BOOLEAN NOT NULL DEFAULT FALSE;

CREATE FUNCTION task_due_at(due TEXT) RETURNS TIMESTAMP
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF due IS NULL THEN
        RETURN NULL;
    ELSIF due ~ '^\d{4}-\d{2}-\d{2}$' THEN
        RETURN due::date::timestamp;
    ELSIF due ~ '^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)$' THEN
        RETURN due::timestamptz AT TIME ZONE 'UTC';
    END IF;
    RETURN NULL;
EXCEPTION
    WHEN others THEN RETURN NULL;
END
$$;

CREATE FUNCTION task_before_write() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        NEW.version = OLD.version + 1;
    END IF;
    NEW.due_at = task_due_at(NEW.due_date);
    RETURN NEW;
END
$$;

-- Backfill due_at for rows that already exist without firing any trigger: the contract's
-- update_task_updated_at would stamp updated_at on every adopted task, and any trigger an
-- operator added must not see a write the application never made. Only triggers enabled
-- now are switched off, and exactly those are switched back on. New columns got their
-- defaults above without a trigger (ADD COLUMN does not fire row triggers).
DO $$
DECLARE
    enabled TEXT[];
    name TEXT;
BEGIN
    SELECT coalesce(array_agg(tgname::text), '{}') INTO enabled
    FROM pg_trigger
    WHERE tgrelid = 'task'::regclass AND NOT tgisinternal AND tgenabled <> 'D';
    FOREACH name IN ARRAY enabled LOOP
        EXECUTE format('ALTER TABLE task DISABLE TRIGGER %I', name);
    END LOOP;
    UPDATE task SET due_at = task_due_at(due_date) WHERE due_date IS NOT NULL;
    FOREACH name IN ARRAY enabled LOOP
        EXECUTE format('ALTER TABLE task ENABLE TRIGGER %I', name);
    END LOOP;
END
$$;

CREATE TRIGGER task_before_write BEFORE INSERT OR UPDATE ON task
    FOR EACH ROW EXECUTE FUNCTION task_before_write();

-- Keyset pagination for the other time-based sorts (created_at has its index already).
-- Tasks without a due date sort as if due at infinity, so they come last in ascending order.
CREATE INDEX task_user_updated_idx ON task (user_id, updated_at DESC, id DESC);
CREATE INDEX task_user_due_idx ON task (user_id, (COALESCE(due_at, 'infinity'::timestamp)), id);

-- Create requests with an Idempotency-Key: the first response, replayed for retries.
CREATE TABLE idempotency_key (
    user_id INTEGER NOT NULL
        CONSTRAINT idempotency_key_user_id_fkey REFERENCES "user" (id) ON DELETE CASCADE,
    key VARCHAR(255) NOT NULL,
    request_hash CHAR(64) NOT NULL,
    task_id INTEGER,
    response_body TEXT,
    created_at TIMESTAMP NOT NULL DEFAULT timezone('utc', now()),
    CONSTRAINT idempotency_key_pkey PRIMARY KEY (user_id, key)
);

CREATE INDEX idempotency_key_created_at_idx ON idempotency_key (created_at);
