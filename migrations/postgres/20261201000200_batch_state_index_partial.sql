-- Ingest speed (issues 15 and 16): every new order is 'queued', and `orders_batch_state` indexed
-- every one of them although no query looks a batch's queued orders up by it (what a batch still
-- has queued is counted in batch_counts; cancel, pause and `orders` read the batch through
-- orders_batch_id). Leaving queued orders out saves one index insert per ingested order (a
-- quarter of Postgres's insert time). The index still serves what it is for: a batch's failing
-- orders (`status`, whose query says `state <> 'queued'` literally so both planners use it), and the
-- orders of a batch in any state a worker has moved them to.
DROP INDEX orders_batch_state;
CREATE INDEX orders_batch_state ON orders (batch_id, state) WHERE state <> 'queued';
