-- The OpenID Connect provider. Times are Unix microseconds; JSON is text.

-- Clients: Hydra's client document (without its secret), the secret's hash apart.
CREATE TABLE oauth2_clients (
    id TEXT PRIMARY KEY,
    secret_hash TEXT,
    document TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Signing keys by set; the newest signs, all are published. The private key is encrypted
-- with secrets.cipher.
CREATE TABLE oauth2_keys (
    set_id TEXT NOT NULL,
    kid TEXT NOT NULL,
    alg TEXT NOT NULL,
    private_key TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (set_id, kid)
);

-- A grant: what one authorization (or one client credentials request) allowed. Its code,
-- access and refresh tokens live and die together: revoking the grant ends them all.
CREATE TABLE oauth2_grants (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    session_id TEXT,
    scope TEXT NOT NULL,
    details TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX oauth2_grants_subject ON oauth2_grants (subject, client_id);
CREATE INDEX oauth2_grants_session ON oauth2_grants (session_id);

-- Tokens by the SHA-256 of their text (never the text). `used_at`: a code or refresh token
-- spent (kept to detect reuse).
CREATE TABLE oauth2_tokens (
    signature TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES oauth2_grants (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX oauth2_tokens_grant ON oauth2_tokens (grant_id);
CREATE INDEX oauth2_tokens_expiry ON oauth2_tokens (expires_at);

-- Consents a user asked to remember, per client.
CREATE TABLE oauth2_consents (
    subject TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (subject, client_id)
);

-- Anonymous browser sessions (tower-sessions) that tie a parked authorization request to the
-- browser that made it.
CREATE TABLE browser_sessions (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX browser_sessions_expiry ON browser_sessions (expires_at);
