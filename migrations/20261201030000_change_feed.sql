-- migrate:up

-- The change feed (GET /api/{user_id}/changes): each task remembers the transaction that last
-- wrote it, and each deletion leaves a tombstone with the deleting transaction's id. Readers
-- take only changes of transactions older than their snapshot's xmin (all of those have
-- finished), so a transaction that commits late is found by the next read, never skipped.
ALTER TABLE tasks ADD COLUMN changed_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX tasks_user_changes_idx ON tasks (user_id, changed_xid, id);

CREATE TABLE task_deletions (
    user_id     text        NOT NULL,
    task_id     uuid        NOT NULL,
    deleted_xid xid8        NOT NULL DEFAULT pg_current_xact_id(),
    deleted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, task_id)
);
CREATE INDEX task_deletions_user_changes_idx ON task_deletions (user_id, deleted_xid, task_id);

CREATE OR REPLACE FUNCTION tasks_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- clock_timestamp, not now(): two writes in one transaction still get distinct times.
    NEW.updated_at := clock_timestamp();
    NEW.version := OLD.version + 1;
    NEW.changed_xid := pg_current_xact_id();
    RETURN NEW;
END;
$$;

-- A deletion is remembered for 30 days; older tombstones of the user go as a new one comes.
CREATE FUNCTION tasks_remember_deletion() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM task_deletions
    WHERE user_id = OLD.user_id AND deleted_at < now() - interval '30 days';
    INSERT INTO task_deletions (user_id, task_id) VALUES (OLD.user_id, OLD.id)
    ON CONFLICT (user_id, task_id) DO NOTHING;
    RETURN OLD;
END;
$$;

CREATE TRIGGER tasks_remember_deletion
AFTER DELETE ON tasks
FOR EACH ROW EXECUTE FUNCTION tasks_remember_deletion();

-- migrate:down

DROP TRIGGER tasks_remember_deletion ON tasks;
DROP FUNCTION tasks_remember_deletion();
CREATE OR REPLACE FUNCTION tasks_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := clock_timestamp();
    NEW.version := OLD.version + 1;
    RETURN NEW;
END;
$$;
DROP TABLE task_deletions;
ALTER TABLE tasks DROP COLUMN changed_xid;
