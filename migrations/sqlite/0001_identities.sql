-- Identities and what hangs off them. Ids are UUID text and times are Unix microseconds, the same
-- in every dialect, so one set of queries serves SQLite, PostgreSQL and CockroachDB.
CREATE TABLE identities (
    id TEXT PRIMARY KEY NOT NULL,
    schema_id TEXT NOT NULL,
    state TEXT NOT NULL,
    state_changed_at INTEGER,
    traits TEXT NOT NULL,
    metadata_public TEXT,
    metadata_admin TEXT,
    external_id TEXT UNIQUE,
    organization_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE identity_credentials (
    id TEXT PRIMARY KEY NOT NULL,
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    config TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (identity_id, type)
);

CREATE TABLE identity_credential_identifiers (
    id TEXT PRIMARY KEY NOT NULL,
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL REFERENCES identity_credentials (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    identifier TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (type, identifier)
);
CREATE INDEX identity_credential_identifiers_identifier ON identity_credential_identifiers (identifier);
CREATE INDEX identity_credential_identifiers_identity ON identity_credential_identifiers (identity_id);

CREATE TABLE identity_verifiable_addresses (
    id TEXT PRIMARY KEY NOT NULL,
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    via TEXT NOT NULL,
    value TEXT NOT NULL,
    status TEXT NOT NULL,
    verified_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (via, value)
);
CREATE INDEX identity_verifiable_addresses_identity ON identity_verifiable_addresses (identity_id);

CREATE TABLE identity_recovery_addresses (
    id TEXT PRIMARY KEY NOT NULL,
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    via TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (via, value)
);
CREATE INDEX identity_recovery_addresses_identity ON identity_recovery_addresses (identity_id);
