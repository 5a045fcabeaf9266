-- Client assertions (private_key_jwt) already used, by the SHA-256 of client id and `jti`:
-- each works once, and is remembered until it expires.
CREATE TABLE oauth2_assertions (
    signature TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oauth2_assertions_expiry ON oauth2_assertions (expires_at);
