-- migrate:up

-- When the task was last completed: NULL while it is pending. Set as `completed` turns true,
-- to the same moment as the write's updated_at (or created_at, for a task created
-- completed); cleared as it turns false; kept while `completed` stays true.
ALTER TABLE tasks ADD COLUMN completed_at timestamptz;

CREATE FUNCTION tasks_track_completion() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT NEW.completed THEN
        NEW.completed_at := NULL;
    ELSIF TG_OP = 'INSERT' THEN
        NEW.completed_at := NEW.created_at;
    ELSIF NOT OLD.completed THEN
        NEW.completed_at := NEW.updated_at;
    ELSE
        NEW.completed_at := OLD.completed_at;
    END IF;
    RETURN NEW;
END;
$$;

-- BEFORE triggers fire in name order: this one after tasks_touch_updated_at, whose
-- updated_at it reads.
CREATE TRIGGER tasks_track_completion
BEFORE INSERT OR UPDATE ON tasks
FOR EACH ROW EXECUTE FUNCTION tasks_track_completion();

-- Tasks already completed get the best moment known, their last write. The update is a
-- write like any other (a new version, a place in the change feed), so clients holding
-- them learn the new field; pending tasks keep their version, their completed_at being the
-- NULL a client that does not know the field already assumes.
UPDATE tasks SET completed_at = updated_at WHERE completed;

-- migrate:down

DROP TRIGGER tasks_track_completion ON tasks;
DROP FUNCTION tasks_track_completion();
ALTER TABLE tasks DROP COLUMN completed_at;
