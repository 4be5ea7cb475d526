-- migrate:up

-- The hourly clean-up (src/jobs.rs) removes tombstones past their 30 days in batches, oldest
-- first; this index makes each batch a short range scan instead of a pass over the table.
CREATE INDEX task_deletions_deleted_at_idx ON task_deletions (deleted_at);

-- Per user, the newest transaction id among the tombstones the clean-up removed to keep the
-- user under the cap. A change-feed cursor at or before it may have missed a deletion, so it
-- is answered 410, as a cursor older than the 30 days is.
CREATE TABLE feed_horizons (
    user_id    text PRIMARY KEY,
    pruned_xid xid8 NOT NULL
);

-- migrate:down

DROP TABLE feed_horizons;
DROP INDEX task_deletions_deleted_at_idx;
