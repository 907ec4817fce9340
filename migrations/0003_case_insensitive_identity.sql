-- Usernames and emails are unique regardless of case ("Alice" and "alice" are one account).
-- Unique indexes on lower(...) let PostgreSQL enforce it, and serve login look-ups.

CREATE UNIQUE INDEX user_email_lower_key ON "user" (lower(email));
CREATE UNIQUE INDEX user_username_lower_key ON "user" (lower(username));
