-- Leases are fences (DESIGN.md): a worker writes sent_at (Unix ms) right before a create call
-- leaves, in the same statement that checks it still holds the order's lease. An expired lease
-- with sent_at NULL was claimed but never sent: it goes back to the queue at once, without a
-- lookup. With sent_at set the call may have reached the provider: the order is taken over
-- only once the profile's doubt wait has passed after the lease ran out, and its doubt is
-- resolved (looked up) before anything is sent again. Cleared when the outcome is recorded.
ALTER TABLE orders ADD COLUMN sent_at INTEGER;

-- Orders in flight when this column arrives may have been sent: they are treated as sent.
UPDATE orders SET sent_at = COALESCE(lease_expires_at, 0) WHERE state = 'in_flight';
