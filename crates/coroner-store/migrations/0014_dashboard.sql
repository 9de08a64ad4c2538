-- The dashboard: problem states and fixes, counters pre-aggregated for the
-- problems page (so it never scans crashes), viewer sessions, the audit log.

-- open | probably-fixed | fixed | regressed | ignored
ALTER TABLE problems ADD COLUMN state TEXT NOT NULL DEFAULT 'open';
ALTER TABLE problems ADD COLUMN host_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE problems ADD COLUMN release_count BIGINT NOT NULL DEFAULT 0;
-- Of the problem's first crash: what the text search and the filters read.
ALTER TABLE problems ADD COLUMN guilty TEXT;
ALTER TABLE problems ADD COLUMN module TEXT;
ALTER TABLE problems ADD COLUMN frames TEXT;
ALTER TABLE problems ADD COLUMN known TEXT;       -- matched rule ids, space-separated
-- Set when merged into another problem: its old links lead there.
ALTER TABLE problems ADD COLUMN merged_into TEXT;
CREATE INDEX problems_last_seen ON problems (last_seen);
CREATE INDEX problems_count ON problems (count);

-- A problem's crashes per kernel release (first and last seen per release).
CREATE TABLE problem_releases (
    problem TEXT NOT NULL REFERENCES problems (id),
    release TEXT NOT NULL,
    count BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (problem, release)
);

-- Which hosts ran which release, as crashes show (for "probably fixed").
CREATE TABLE release_hosts (
    release TEXT NOT NULL,
    host TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (release, host)
);

-- "Fixed in this release" per branch (5.14.0-427 and 5.14.0-503 are branches).
CREATE TABLE problem_fixes (
    problem TEXT NOT NULL REFERENCES problems (id),
    branch TEXT NOT NULL,
    release TEXT NOT NULL,
    marked BIGINT NOT NULL,
    regressed_in TEXT,              -- the release at or after it that crashed
    PRIMARY KEY (problem, branch)
);

-- The filters over release, host and dates aggregate counters by day first.
CREATE INDEX counters_day ON counters (day, problem);
CREATE INDEX counters_release ON counters (release, problem);
CREATE INDEX counters_host ON counters (host, problem);
CREATE INDEX crashes_signature ON crashes (signature, received);
CREATE INDEX crashes_host ON crashes (host, received);
CREATE INDEX stages_status ON stages (status);

ALTER TABLE tokens ADD COLUMN download BIGINT NOT NULL DEFAULT 0;

-- A browser's login: the cookie's SHA-256, and the token it stands for (so
-- revoking the token ends its sessions).
CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);

CREATE TABLE audit (
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,            -- the token's hash, first 12 hex digits
    action TEXT NOT NULL,           -- download | merge | split | fix | ...
    subject TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX audit_at ON audit (at);
