-- The operator's controls (issue 13): a state per batch, API tokens, and the audit log.

-- active: its orders are claimed; paused: not claimed (calls in flight finish);
-- awaiting_approval: held until someone other than its submitter approves it;
-- canceled: its unsent orders were canceled. `state_reason` says why (an auto-pause's numbers).
ALTER TABLE batches ADD COLUMN state TEXT NOT NULL DEFAULT 'active';
ALTER TABLE batches ADD COLUMN state_reason TEXT;
-- Who submitted the batch (`cli:<user>` or `token:<name>`): the one actor who may not approve it.
ALTER TABLE batches ADD COLUMN submitted_by TEXT;
-- Who approved spending past the profile's daily_spend_cap for this batch (maker-checker, like
-- an approval); NULL: the cap holds its orders.
ALTER TABLE batches ADD COLUMN spend_cap_waived_by TEXT;
-- The batch's amounts per currency as JSON (`{"USD": 125000}`, minor units), written with the
-- batch: its orders' amounts never change, and summing them on every read cost a full scan.
-- NULL for batches written before this column (their totals are summed when read).
ALTER TABLE batches ADD COLUMN totals TEXT;

-- Bearer tokens of the HTTP API: only the SHA-256 of the token is kept.
CREATE TABLE api_tokens (
    name        TEXT PRIMARY KEY NOT NULL,
    role        TEXT NOT NULL,              -- viewer | operator | approver | admin
    token_hash  TEXT NOT NULL UNIQUE,       -- hex SHA-256
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

-- Every operator action, from the CLI or the API, whatever its outcome.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    batch_id  TEXT,
    order_id  INTEGER,
    outcome   TEXT NOT NULL,               -- ok | refused | failed
    detail    TEXT
);

-- The daily spend cap: what each profile reserved per day (in its configured UTC offset), in
-- minor units. A claim reserves an order's amount here or defers the order to the next day.
CREATE TABLE spend_days (
    profile      TEXT NOT NULL,
    day          TEXT NOT NULL,             -- YYYY-MM-DD
    spent_minor  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (profile, day)
);

-- Keyset pagination of a batch's orders (`after` an order id).
CREATE INDEX orders_batch_id ON orders (batch_id, id);
