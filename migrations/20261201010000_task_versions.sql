-- migrate:up

-- A version per task, raised by every write: the task's ETag, and what If-Match compares.
ALTER TABLE tasks ADD COLUMN version bigint NOT NULL DEFAULT 1;

CREATE OR REPLACE FUNCTION tasks_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- clock_timestamp, not now(): two writes in one transaction still get distinct times.
    NEW.updated_at := clock_timestamp();
    NEW.version := OLD.version + 1;
    RETURN NEW;
END;
$$;

-- migrate:down

CREATE OR REPLACE FUNCTION tasks_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END;
$$;

ALTER TABLE tasks DROP COLUMN version;
