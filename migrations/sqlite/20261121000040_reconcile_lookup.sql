-- The reconciler: submitted orders with no confirmation are looked up at the provider.
--
-- lookup_next_at fences the lookups: the reconciler claims an order by moving it into the
-- future (a lease, so two processes never look the same order up at once), and after the lookup
-- sets it to when the next look is due (backoff). NULL: never looked up; due once the order has
-- been submitted for the configured time (orders.updated_at is when it became submitted).
ALTER TABLE orders ADD COLUMN lookup_next_at INTEGER;
ALTER TABLE orders ADD COLUMN lookup_count INTEGER NOT NULL DEFAULT 0;
-- The provider says one thing, we recorded another (it said FAILED while a webhook said issued,
-- or it does not know a card we hold refs for). Recorded for the report; the order never moves
-- backwards because of it.
ALTER TABLE orders ADD COLUMN mismatch TEXT;
ALTER TABLE orders ADD COLUMN mismatch_at INTEGER;

-- The reconciler's queue: submitted orders, oldest first.
CREATE INDEX orders_submitted ON orders (updated_at) WHERE state = 'submitted';
-- Reports: the mismatches of a batch.
CREATE INDEX orders_mismatch ON orders (batch_id) WHERE mismatch IS NOT NULL;
