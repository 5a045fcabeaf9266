-- Client assertions (private_key_jwt) already used, by the SHA-256 of client id and `jti`:
-- each works once, and is remembered until it expires.
CREATE TABLE oauth2_assertions (
    signature TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oauth2_assertions_expiry ON oauth2_assertions (expires_at);

-- A refresh removes its grant's access tokens; a grant keeps every used refresh token until
-- it expires (to detect reuse), so finding the access tokens among them needs the kind too.
DROP INDEX oauth2_tokens_grant;
CREATE INDEX oauth2_tokens_grant ON oauth2_tokens (grant_id, kind);
