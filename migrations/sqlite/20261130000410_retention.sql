-- Retention (cardbatch prune): orders settled long ago lose their personal data.
--
-- pruned_at: when the order's payload (names, tax ids, e-mail, phone, address) was replaced by
-- a marker; NULL while it is whole. The row stays, with its order_ref (so a re-upload of its
-- file is still a duplicate), refs, amounts, states, times and idempotency key.
ALTER TABLE orders ADD COLUMN pruned_at INTEGER;

-- What the next prune takes: settled orders not yet pruned, oldest first. Only settled rows are
-- in it, so ingest never writes to it.
CREATE INDEX orders_prunable ON orders (updated_at)
    WHERE pruned_at IS NULL AND state IN ('issued', 'failed', 'rejected', 'canceled');

-- The webhook events of an order, whose bodies go with its personal data (and a batch's delete).
CREATE INDEX webhook_events_order ON webhook_events (order_id) WHERE order_id IS NOT NULL;

-- The references of deleted batches' orders: ingest still refuses them as duplicates, so a
-- re-upload of a deleted batch's file never issues twice.
CREATE TABLE retired_refs (
    profile    TEXT NOT NULL,
    order_ref  TEXT NOT NULL,
    batch_id   TEXT NOT NULL,
    line       INTEGER NOT NULL,
    PRIMARY KEY (profile, order_ref)
);
