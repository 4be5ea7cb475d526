-- migrate:up

-- Due dates, priorities and tags. Additive: existing rows get no due date, no priority, no tags.
ALTER TABLE tasks
    -- A calendar date, as <input type="date"> gives it: no time zone.
    ADD COLUMN due_date date,
    -- 0 none, 1 low, 2 medium, 3 high: stored as a rank so that it sorts by importance.
    ADD COLUMN priority smallint NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 3),
    -- Lower-cased and deduplicated by the API; at most 20.
    ADD COLUMN tags text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 20);

-- One index per way of ordering a list, each led by user_id (every query filters on it) and
-- ending in id (the tie-break): keyset paging walks them. created_at already has one.
CREATE INDEX tasks_user_updated_idx ON tasks (user_id, updated_at, id);
CREATE INDEX tasks_user_title_idx ON tasks (user_id, lower(title), id);
-- Tasks without a due date come last in both directions, hence two expressions.
CREATE INDEX tasks_user_due_soonest_idx ON tasks (user_id, COALESCE(due_date, 'infinity'::date), id);
CREATE INDEX tasks_user_due_latest_idx ON tasks (user_id, COALESCE(due_date, '-infinity'::date), id);
CREATE INDEX tasks_user_priority_idx ON tasks (user_id, priority, id);
-- "Has every one of these tags" (tags @> ...).
CREATE INDEX tasks_tags_idx ON tasks USING gin (tags);

-- Substring search in titles and descriptions, served by a trigram index where pg_trgm is
-- available (Neon has it); without it, search still works, by scanning the user's tasks.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX tasks_search_idx ON tasks
        USING gin ((title || ' ' || coalesce(description, '')) gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%); task search runs without a trigram index', SQLERRM;
END
$$;

-- migrate:down

DROP INDEX IF EXISTS tasks_search_idx;
DROP INDEX tasks_tags_idx;
DROP INDEX tasks_user_priority_idx;
DROP INDEX tasks_user_due_latest_idx;
DROP INDEX tasks_user_due_soonest_idx;
DROP INDEX tasks_user_title_idx;
DROP INDEX tasks_user_updated_idx;
ALTER TABLE tasks DROP COLUMN tags, DROP COLUMN priority, DROP COLUMN due_date;
