-- `run --until-idle` counts, once when it stops, the orders that ended during the run (its exit
-- code says whether any ended badly). Settled orders are found through orders_prunable (on
-- updated_at); this index holds the two end states that one lacks, `dead` and `needs_review`
-- (few orders, and ingest never writes to it), so that the count reads two index ranges instead
-- of every order of a store that holds millions.
CREATE INDEX orders_ended_badly ON orders (updated_at) WHERE state IN ('dead', 'needs_review');
