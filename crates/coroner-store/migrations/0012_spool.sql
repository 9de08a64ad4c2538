-- The spool (kdump's ssh/NFS drop directory): which crash a capture directory
-- became, and which of its files are in the store already, so that a restart
-- never ingests a file twice.

CREATE TABLE spool_dirs (
    dir TEXT PRIMARY KEY,           -- the directory's name under the spool (checked shape)
    crash TEXT NOT NULL REFERENCES crashes (id),
    created BIGINT NOT NULL
);

CREATE TABLE spool_files (
    dir TEXT NOT NULL,
    file TEXT NOT NULL,
    crash TEXT,                     -- the crash it went to (null: refused, see the crash's stages)
    bytes BIGINT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (dir, file)
);
