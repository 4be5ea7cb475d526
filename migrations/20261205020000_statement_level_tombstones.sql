-- migrate:up

-- A deletion's tombstones are written once per DELETE statement, from its transition table,
-- rather than by a trigger call per row: deleting a list of 10,000 tasks (and a task's
-- subtasks) is one INSERT ... SELECT. Tombstones past their 30 days are no longer pruned on
-- every delete, which read all of the user's tombstones each time: the hourly clean-up
-- (src/jobs.rs) removes them, through task_deletions_deleted_at_idx.
DROP TRIGGER tasks_remember_deletion ON tasks;
DROP FUNCTION tasks_remember_deletion();

CREATE FUNCTION tasks_remember_deletions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_deletions (user_id, task_id)
    SELECT user_id, id FROM gone
    ON CONFLICT (user_id, task_id) DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tasks_remember_deletions
AFTER DELETE ON tasks
REFERENCING OLD TABLE AS gone
FOR EACH STATEMENT EXECUTE FUNCTION tasks_remember_deletions();

-- migrate:down

DROP TRIGGER tasks_remember_deletions ON tasks;
DROP FUNCTION tasks_remember_deletions();

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
