-- One schema for SQLite and PostgreSQL: only TEXT and BIGINT columns, text ids
-- made by the server, times as seconds since the epoch (UTC).

CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,          -- SHA-256 of the token, hex; the token itself is never stored
    role TEXT NOT NULL,             -- upload | viewer
    host TEXT,                      -- the host an upload token writes as
    created BIGINT NOT NULL
);

CREATE TABLE problems (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    class TEXT,
    count BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    vmcores_wanted BIGINT NOT NULL,     -- sampling: how many vmcores were asked for
    last_vmcore_wanted BIGINT           -- and when the last one was
);

-- A problem owns signatures: merging or splitting problems moves these rows.
CREATE TABLE signatures (
    signature TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    problem TEXT NOT NULL REFERENCES problems (id)
);
CREATE INDEX signatures_problem ON signatures (problem);

CREATE TABLE crashes (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    received BIGINT NOT NULL,
    state TEXT NOT NULL,
    input TEXT NOT NULL,            -- log | dump: what the POST carried
    log_key TEXT,
    vmcore_key TEXT,
    vmcore_bytes BIGINT,
    vmcore_state TEXT NOT NULL,     -- none | receiving | stored | failed
    signature TEXT,
    signature_version TEXT,
    problem TEXT,
    release TEXT,
    want_vmcore BIGINT NOT NULL,
    triage TEXT                     -- the coroner.triage/1 document
);
CREATE INDEX crashes_problem ON crashes (problem);

CREATE TABLE stages (
    crash TEXT NOT NULL REFERENCES crashes (id),
    seq BIGINT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,           -- ok | failed | skipped
    reason TEXT,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (crash, seq)
);

-- Reports read out of the dump (coroner.info/1, coroner.bt/1, coroner.ps/1).
CREATE TABLE facts (
    crash TEXT NOT NULL REFERENCES crashes (id),
    name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (crash, name)
);

CREATE TABLE counters (
    problem TEXT NOT NULL REFERENCES problems (id),
    day TEXT NOT NULL,
    release TEXT NOT NULL,
    host TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (problem, day, release, host)
);

CREATE TABLE problem_hosts (
    problem TEXT NOT NULL REFERENCES problems (id),
    host TEXT NOT NULL,
    count BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (problem, host)
);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    crash TEXT NOT NULL REFERENCES crashes (id),
    kind TEXT NOT NULL,             -- analyse: the dump's facts
    state TEXT NOT NULL,            -- queued | running | done
    attempts BIGINT NOT NULL,
    created BIGINT NOT NULL
);
CREATE INDEX jobs_state ON jobs (state, created);
