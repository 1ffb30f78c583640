-- Which call an attempts row records: `create` (the create-card call), `lookup` (a status or
-- doubt-resolving read, by the worker or the reconciler) or `token` (an access-token request).
-- NULL on rows written before this column existed.
ALTER TABLE attempts ADD COLUMN kind TEXT;
