-- Alchemy Pay's reverse validation and its callbacks find an order by the orderNo (our
-- idempotency key). Only Alchemy orders are looked up this way, so only they are indexed: the
-- keys are random, and indexing every provider's orders made each ingest insert a random B-tree
-- write (a 1M-row UQPAY ingest spent most of its time there). Queries must say
-- `provider = 'alchemypay_vcc'` literally for the planner to use this partial index.
CREATE INDEX orders_alchemypay_key ON orders (idempotency_key) WHERE provider = 'alchemypay_vcc';
