-- Failed logins per key ("email:<address>" or "client:<ip>"), in fixed windows that start at
-- the first failure. In PostgreSQL, not memory, so every instance enforces the same limits.
CREATE TABLE login_throttle (
    key TEXT CONSTRAINT login_throttle_pkey PRIMARY KEY,
    failures INTEGER NOT NULL CONSTRAINT login_throttle_failures_check CHECK (failures > 0),
    window_start TIMESTAMP NOT NULL
);

-- Expired sessions are deleted periodically; this index finds them without a scan.
CREATE INDEX session_expires_at_idx ON session (expires_at);
