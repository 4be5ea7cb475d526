-- migrate:up

-- Idempotency-Key on POST .../tasks: a key is the user's own, remembers the request it came
-- with (a digest of its normalized body) and the task it created, for 24 hours.
CREATE TABLE idempotency_keys (
    user_id      text        NOT NULL,
    key          text        NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    request_hash text        NOT NULL,
    task_id      uuid        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);

-- For removing keys past their 24 hours in bulk.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- migrate:down

DROP TABLE idempotency_keys;
