-- The addresses each account has logged in from. Past the per-account ceiling on login
-- attempts, only these may still try, so strangers guessing a password from elsewhere
-- cannot lock the owner out of the places they use. Rows unused for 30 days are swept.
-- `client` is text, as in login_throttle's keys: an address as the server resolved it.
CREATE TABLE login_known_client (
    user_id INTEGER NOT NULL
        CONSTRAINT login_known_client_user_id_fkey REFERENCES "user" (id) ON DELETE CASCADE,
    client TEXT NOT NULL,
    last_login TIMESTAMP NOT NULL,
    CONSTRAINT login_known_client_pkey PRIMARY KEY (user_id, client)
);
