-- Sessions. Only a SHA-256 of the session token is stored: a database leak yields no usable
-- sessions. `active` is 1 or 0.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    active INTEGER NOT NULL,
    aal TEXT NOT NULL,
    authentication_methods TEXT NOT NULL,
    devices TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    authenticated_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX sessions_identity ON sessions (identity_id);

-- Self-service flows of every kind (login, registration, ...), with their form as JSON.
CREATE TABLE selfservice_flows (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    type TEXT NOT NULL,
    state TEXT NOT NULL,
    request_url TEXT NOT NULL,
    return_to TEXT,
    ui TEXT NOT NULL,
    csrf_token TEXT,
    active TEXT,
    refresh INTEGER NOT NULL,
    requested_aal TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Errors shown to browsers on the error page (/self-service/errors?id=).
CREATE TABLE selfservice_errors (
    id TEXT PRIMARY KEY NOT NULL,
    error TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
