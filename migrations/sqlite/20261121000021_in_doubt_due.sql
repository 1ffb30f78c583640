-- Orders in doubt come back to the claim when their resolution is due (next_attempt_at).
CREATE INDEX orders_in_doubt_due ON orders (profile, next_attempt_at) WHERE state = 'in_doubt';
