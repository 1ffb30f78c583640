-- The rate limit of each provider profile shared by every process on one database. Only the
-- Postgres store uses it (on SQLite, one machine, each profile keeps its in-process lane); the
-- table exists here too so that both engines have the same schema. See the Postgres migration.

CREATE TABLE lane_budgets (
    profile          TEXT PRIMARY KEY NOT NULL,
    rate             REAL NOT NULL,
    tat_us           INTEGER NOT NULL DEFAULT 0,
    paused_until_us  INTEGER NOT NULL DEFAULT 0,
    last_cut_us      INTEGER NOT NULL DEFAULT 0,
    last_change_us   INTEGER NOT NULL DEFAULT 0,
    last_grant_us    INTEGER NOT NULL DEFAULT -1,
    permits          INTEGER NOT NULL DEFAULT 0,
    rate_limited     INTEGER NOT NULL DEFAULT 0
);
