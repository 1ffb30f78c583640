-- The rate limit of each provider profile, shared by every process on this database (the shared
-- lane, `src/lanes/shared.rs`). One row per profile, advanced a block of permits at a time:
--
-- - `tat_us`: GCRA's "theoretical arrival time", the first instant not yet handed out;
-- - `rate`: the rate the lane lets through now (halved on a 429, given back step by step);
-- - `paused_until_us`: no permit before this instant (the provider's Retry-After);
-- - `last_cut_us`, `last_change_us`: when the rate was last halved / last changed;
-- - `last_grant_us`: the first permit of the last block handed out (-1: the last ask got none);
-- - `permits`, `rate_limited`: counters, for operators.
--
-- Instants are microseconds since the Unix epoch on the database's clock, so that processes on
-- machines with different clocks agree.

CREATE TABLE lane_budgets (
    profile          TEXT PRIMARY KEY NOT NULL,
    rate             DOUBLE PRECISION NOT NULL,
    tat_us           BIGINT NOT NULL DEFAULT 0,
    paused_until_us  BIGINT NOT NULL DEFAULT 0,
    last_cut_us      BIGINT NOT NULL DEFAULT 0,
    last_change_us   BIGINT NOT NULL DEFAULT 0,
    last_grant_us    BIGINT NOT NULL DEFAULT -1,
    permits          BIGINT NOT NULL DEFAULT 0,
    rate_limited     BIGINT NOT NULL DEFAULT 0
);
