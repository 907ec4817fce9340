-- The columns are TIMESTAMP WITHOUT TIME ZONE, so CURRENT_TIMESTAMP would store the writing
-- session's local time. The API promises UTC whoever writes (this server, psql, the old
-- backend), so defaults and the trigger take the UTC wall clock explicitly.

ALTER TABLE "user"
    ALTER COLUMN created_at SET DEFAULT timezone('utc', now()),
    ALTER COLUMN updated_at SET DEFAULT timezone('utc', now());

ALTER TABLE task
    ALTER COLUMN created_at SET DEFAULT timezone('utc', now()),
    ALTER COLUMN updated_at SET DEFAULT timezone('utc', now());

ALTER TABLE session
    ALTER COLUMN created_at SET DEFAULT timezone('utc', now());

CREATE OR REPLACE FUNCTION update_updated_at_column()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = timezone('utc', now());
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
