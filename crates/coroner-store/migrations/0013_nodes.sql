-- Several `coroner serve` nodes on one PostgreSQL: each node says it is alive
-- (`seen`), and marks the jobs it runs and the uploads it receives, so that a
-- node's restart or death hands on its own work only, never a live node's.

CREATE TABLE nodes (
    id TEXT PRIMARY KEY,            -- random, per server process
    started BIGINT NOT NULL,
    seen BIGINT NOT NULL
);

ALTER TABLE jobs ADD COLUMN node TEXT;
ALTER TABLE crashes ADD COLUMN node TEXT;
