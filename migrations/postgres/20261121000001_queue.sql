-- The batches, the orders table (which is the queue), and one row per provider call.
-- Timestamps are Unix milliseconds (BIGINT) so both databases compare them the same way.

CREATE TABLE batches (
    id          TEXT PRIMARY KEY NOT NULL,  -- uuid
    profile     TEXT NOT NULL,
    provider    TEXT NOT NULL,
    source      TEXT NOT NULL,              -- file name as given, or table:<name>
    created_at  BIGINT NOT NULL
);

CREATE TABLE orders (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id           TEXT NOT NULL REFERENCES batches (id),
    profile            TEXT NOT NULL,
    provider           TEXT NOT NULL,
    order_ref          TEXT NOT NULL,
    line               BIGINT NOT NULL,       -- physical line in the source file
    idempotency_key    TEXT NOT NULL,
    payload            TEXT NOT NULL,         -- JSON
    amount_minor       BIGINT,
    currency           TEXT,
    state              TEXT NOT NULL DEFAULT 'queued',
    attempts           BIGINT NOT NULL DEFAULT 0,
    next_attempt_at    BIGINT NOT NULL,
    lease_owner        TEXT,
    lease_expires_at   BIGINT,
    -- The state a claim took the order from, so a release can put it back exactly.
    claimed_from       TEXT,
    provider_refs      TEXT,                  -- JSON
    last_error_code    TEXT,
    last_error_message TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE (profile, order_ref)
);

-- The claim path: due orders of one profile, oldest first, and expired leases.
CREATE INDEX orders_due ON orders (profile, next_attempt_at) WHERE state IN ('queued', 'retry_wait');
CREATE INDEX orders_leased ON orders (profile, lease_expires_at) WHERE state = 'in_flight';
-- Reports: counts per state of one batch, its failing orders.
CREATE INDEX orders_batch_state ON orders (batch_id, state);

CREATE TABLE attempts (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id       BIGINT NOT NULL REFERENCES orders (id),
    attempt_no     BIGINT NOT NULL,
    started_at     BIGINT NOT NULL,
    duration_ms    BIGINT NOT NULL,
    http_status    BIGINT,
    provider_code  TEXT,
    outcome        TEXT NOT NULL,  -- accepted | transient | permanent | unknown
    message        TEXT
);

CREATE INDEX attempts_order ON attempts (order_id, attempt_no);
