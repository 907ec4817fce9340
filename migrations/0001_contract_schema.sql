-- The schema existing production databases already have (shared/contract/database-schema.sql),
-- written so that it is a no-op on such a database: every statement tolerates the object
-- being there already. Constraint names are spelled out and equal PostgreSQL's defaults for
-- the contract's inline constraints, so fresh and adopted databases end up identical.

CREATE TABLE IF NOT EXISTS "user" (
    id SERIAL CONSTRAINT user_pkey PRIMARY KEY,
    username VARCHAR(30) NOT NULL CONSTRAINT user_username_key UNIQUE,
    email VARCHAR(255) NOT NULL CONSTRAINT user_email_key UNIQUE,
    hashed_password VARCHAR(255) NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX IF NOT EXISTS idx_user_email ON "user" (email);

-- CREATE TYPE has no IF NOT EXISTS.
DO $$
BEGIN
    CREATE TYPE priority_enum AS ENUM ('High', 'Medium', 'Low');
EXCEPTION
    WHEN duplicate_object THEN NULL;
END
$$;

CREATE TABLE IF NOT EXISTS task (
    id SERIAL CONSTRAINT task_pkey PRIMARY KEY,
    user_id INTEGER NOT NULL CONSTRAINT task_user_id_fkey REFERENCES "user" (id) ON DELETE CASCADE,
    title VARCHAR(200) NOT NULL,
    description TEXT,
    due_date VARCHAR(50),
    priority priority_enum NOT NULL DEFAULT 'Medium',
    tags TEXT,
    recursion_pattern VARCHAR(100),
    completed BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX IF NOT EXISTS idx_task_user_id ON task (user_id);
CREATE INDEX IF NOT EXISTS idx_task_completed ON task (completed);

CREATE TABLE IF NOT EXISTS session (
    id SERIAL CONSTRAINT session_pkey PRIMARY KEY,
    user_id INTEGER NOT NULL CONSTRAINT session_user_id_fkey REFERENCES "user" (id) ON DELETE CASCADE,
    token_jti VARCHAR(255) NOT NULL CONSTRAINT session_token_jti_key UNIQUE,
    token VARCHAR(255) NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX IF NOT EXISTS idx_session_token_jti ON session (token_jti);
CREATE INDEX IF NOT EXISTS idx_session_user_id ON session (user_id);

CREATE OR REPLACE FUNCTION update_updated_at_column()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = CURRENT_TIMESTAMP;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS update_user_updated_at ON "user";
CREATE TRIGGER update_user_updated_at BEFORE UPDATE ON "user"
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

DROP TRIGGER IF EXISTS update_task_updated_at ON task;
CREATE TRIGGER update_task_updated_at BEFORE UPDATE ON task
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
