-- Instances keep the sessions they have read in memory and must hear when one changes: a
-- logout on one instance has to be refused by every other at once. Any change to a session
-- row, or its deletion before it expired, is announced on the channel `session_changed`
-- with the token id as payload, whoever makes it (this server, psql, the old backend).
-- NOTIFY is delivered at commit, so listeners never hear of a change that rolled back.
CREATE FUNCTION session_announce_change() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    -- Deleting expired sessions is housekeeping: their tokens are refused by their expiry.
    IF TG_OP = 'DELETE' AND OLD.expires_at <= timezone('utc', now()) THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('session_changed', OLD.token_jti);
    RETURN NULL;
END
$$;

CREATE TRIGGER session_announce_change
    AFTER UPDATE OR DELETE ON session
    FOR EACH ROW EXECUTE FUNCTION session_announce_change();
