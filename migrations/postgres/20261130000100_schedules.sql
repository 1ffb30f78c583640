-- Scheduled issuance (jobs/*.toml). Timestamps are Unix milliseconds.
--
-- One row per (schedule, slot): inserting it is the claim, so a slot fires once however many
-- processes run the scheduler. While a run is in progress its owner keeps lease_until in the
-- future; a row still 'running' past its lease belongs to a process that died, and the next
-- scheduler to see it takes it over (attempt + 1) and runs the slot again (ingest dedupes).
CREATE TABLE schedule_runs (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schedule      TEXT NOT NULL,              -- the schedule file's stem
    slot          BIGINT NOT NULL,             -- the cron instant this run is for
    started       BIGINT NOT NULL,
    finished      BIGINT,
    -- running | queued | nothing_new | empty | failed | skipped
    outcome       TEXT NOT NULL,
    batch         TEXT,                       -- the batch written (ids joined with ',' when a csv run wrote several)
    "rows"        BIGINT NOT NULL DEFAULT 0,   -- rows read from the source
    error         TEXT,                       -- why the run failed, or the rows it skipped
    cursor_value  TEXT,                       -- database source: highest cursor value read, as text
    cursor_kind   TEXT,                       -- integer | real | text: how cursor_value compares
    attempt       BIGINT NOT NULL DEFAULT 1,
    owner         TEXT,                       -- the process running it
    lease_until   BIGINT,
    UNIQUE (schedule, slot)
);

-- The scheduler's retries: runs whose owner may have died.
CREATE INDEX schedule_runs_running ON schedule_runs (lease_until) WHERE outcome = 'running';

-- CSV sources: every file ingested, by content, so a re-dropped or renamed file is not ingested
-- twice.
CREATE TABLE schedule_files (
    schedule      TEXT NOT NULL,
    content_hash  TEXT NOT NULL,              -- SHA-256 of the file's bytes, hex
    file          TEXT NOT NULL,              -- where it was found
    batch         TEXT,                       -- its batch (NULL: every order was already known)
    slot          BIGINT NOT NULL,
    ingested_at   BIGINT NOT NULL,
    PRIMARY KEY (schedule, content_hash)
);
