-- `q` searches title and description with ILIKE '%text%', which no btree index can answer:
-- at 100 000 tasks each search read every row of its user. Trigram indexes answer ILIKE
-- with a leading wildcard (for three characters or more). pg_trgm is a trusted extension,
-- available on Neon and to a database owner.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX task_title_trgm_idx ON task USING gin (title gin_trgm_ops);
CREATE INDEX task_description_trgm_idx ON task USING gin (description gin_trgm_ops);
