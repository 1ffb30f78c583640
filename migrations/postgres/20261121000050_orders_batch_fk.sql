-- Ingest speed: the foreign key from orders to batches ran one referential-integrity query (a
-- `SELECT ... FOR KEY SHARE` on the batch row) per inserted order, about a fifth of the
-- server's time on a 1,000,000-row batch. The guarantee stays: the batch writer inserts orders
-- by joining the batch row written in the same transaction, so an order cannot name a batch
-- that does not exist, and batches are never deleted. (SQLite keeps its foreign key: its check
-- is a cheap in-process lookup, and dropping it there would mean rebuilding the table.)
ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_batch_id_fkey;
