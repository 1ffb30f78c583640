-- Alchemy Pay's reverse validation looks an order up by the orderNo (our idempotency key) it
-- is about to create a card for; without this index every check would scan the table.
CREATE INDEX orders_provider_key ON orders (provider, idempotency_key);
