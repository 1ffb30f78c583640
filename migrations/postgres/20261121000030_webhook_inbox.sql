-- The webhook inbox, and what matching and confirmation need on orders.
--
-- A provider's card key (QI card_key / postpaid_card_key, UQPAY card_id, Alchemy cardId) and its
-- order key (UQPAY card_order_id, QI payment_instrument_key) are copied out of provider_refs
-- when the refs are recorded, so that an incoming event finds its order through an index.
ALTER TABLE orders ADD COLUMN card_ref TEXT;
ALTER TABLE orders ADD COLUMN card_order_ref TEXT;
-- Who confirmed the final state: 'webhook' or 'lookup'.
ALTER TABLE orders ADD COLUMN confirmed_by TEXT;
ALTER TABLE orders ADD COLUMN confirmed_at BIGINT;

CREATE INDEX orders_card_ref ON orders (provider, card_ref) WHERE card_ref IS NOT NULL;
CREATE INDEX orders_card_order_ref ON orders (provider, card_order_ref) WHERE card_order_ref IS NOT NULL;

-- Every verified event, persisted before the endpoint answers 2xx. `event_key` is the
-- provider's event id, or the documented composite key hashed where there is none (QI), and is
-- unique per endpoint, so a redelivery adds no row.
CREATE TABLE webhook_events (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint       TEXT NOT NULL,             -- qitech | uqpay | alchemypay
    event_key      TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    profile        TEXT,                      -- the profile whose secret verified it, if any
    received_at    BIGINT NOT NULL,
    body           TEXT NOT NULL,             -- the raw body as received
    outcome        TEXT NOT NULL DEFAULT 'pending',  -- pending | matched | unmatched | ignored
    next_check_at  BIGINT NOT NULL,          -- when the processor looks at a pending event again
    checks         BIGINT NOT NULL DEFAULT 0,
    processed_at   BIGINT,
    order_id       BIGINT REFERENCES orders (id),
    note           TEXT,
    UNIQUE (endpoint, event_key)
);

-- The processor's queue: pending events that are due, in order of receipt.
CREATE INDEX webhook_events_due ON webhook_events (next_check_at, id) WHERE outcome = 'pending';
-- Reports: events per outcome (unmatched ones above all).
CREATE INDEX webhook_events_outcome ON webhook_events (outcome, id);
