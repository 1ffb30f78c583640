-- Per-batch counters, kept in the same transaction as every change to `orders`, so
-- that `batches`, `status`, the API and the reports read O(batches) rows instead of counting
-- every order (3M orders: `batches` took 11 s).
--
-- batch_counts: orders per state and confirmation source ('' when none; the reconcile report
-- tells webhook from lookup). batch_totals: orders and the sum of amount_minor per currency
-- (amounts never change after ingest). `slot` spreads one batch's counters over several rows so
-- that concurrent Postgres transactions rarely wait on the same row; SQLite has one writer and
-- always uses slot 0. Readers sum over the slots. A counter that falls to 0 stays, as 0.
--
-- New orders are counted by the batch writer (the only INSERT into orders), once per batch in
-- the batch's transaction: a trigger on INSERT cost 7% of SQLite's ingest time and 60% of
-- Postgres's (BENCHMARKS.md). Triggers count every change of state (and of confirmation
-- source) and every delete.
CREATE TABLE batch_counts (
    batch_id      TEXT NOT NULL,
    state         TEXT NOT NULL,
    confirmed_by  TEXT NOT NULL DEFAULT '',
    slot          INTEGER NOT NULL DEFAULT 0,
    n             INTEGER NOT NULL,
    PRIMARY KEY (batch_id, state, confirmed_by, slot)
) WITHOUT ROWID;

CREATE TABLE batch_totals (
    batch_id     TEXT NOT NULL,
    currency     TEXT NOT NULL,
    slot         INTEGER NOT NULL DEFAULT 0,
    n            INTEGER NOT NULL,
    total_minor  INTEGER NOT NULL,
    PRIMARY KEY (batch_id, currency, slot)
) WITHOUT ROWID;

INSERT INTO batch_counts (batch_id, state, confirmed_by, slot, n)
    SELECT batch_id, state, COALESCE(confirmed_by, ''), 0, COUNT(*) FROM orders
    GROUP BY batch_id, state, COALESCE(confirmed_by, '');
INSERT INTO batch_totals (batch_id, currency, slot, n, total_minor)
    SELECT batch_id, currency, 0, COUNT(*), SUM(amount_minor) FROM orders
    WHERE currency IS NOT NULL AND amount_minor IS NOT NULL GROUP BY batch_id, currency;

CREATE TRIGGER orders_counted_state AFTER UPDATE OF state, confirmed_by ON orders
WHEN OLD.state IS NOT NEW.state OR OLD.confirmed_by IS NOT NEW.confirmed_by BEGIN
    UPDATE batch_counts SET n = n - 1
        WHERE batch_id = OLD.batch_id AND state = OLD.state
        AND confirmed_by = COALESCE(OLD.confirmed_by, '') AND slot = 0;
    INSERT INTO batch_counts (batch_id, state, confirmed_by, slot, n)
        VALUES (NEW.batch_id, NEW.state, COALESCE(NEW.confirmed_by, ''), 0, 1)
        ON CONFLICT (batch_id, state, confirmed_by, slot) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER orders_counted_delete AFTER DELETE ON orders BEGIN
    UPDATE batch_counts SET n = n - 1
        WHERE batch_id = OLD.batch_id AND state = OLD.state
        AND confirmed_by = COALESCE(OLD.confirmed_by, '') AND slot = 0;
    UPDATE batch_totals SET n = n - 1, total_minor = total_minor - OLD.amount_minor
        WHERE batch_id = OLD.batch_id AND currency = OLD.currency AND slot = 0
        AND OLD.amount_minor IS NOT NULL;
END;
