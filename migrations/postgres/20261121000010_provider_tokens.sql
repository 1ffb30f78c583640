-- A provider access token shared by every process on this database (UQPAY: a new token revokes
-- every older one, so all workers of a profile must use the same one). The token is a secret
-- kept in cardbatch's own database on purpose: that is how processes share it.
-- Timestamps are Unix milliseconds.

CREATE TABLE provider_tokens (
    profile     TEXT PRIMARY KEY NOT NULL,
    token       TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
