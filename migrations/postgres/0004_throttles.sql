-- Counters of attempts at credential checks, mails and sign-ups, shared by every replica on
-- the database. A counter is named by its scope and keyed hashes (never the identifier, address
-- or IP itself): `subject` is what is limited (an identifier, an identity, an address, a client
-- network) and `origin` narrows it to one client network where the scope is per pair ('' else).
-- `failures` counts attempts inside the window that ends at `window_ends_at`; a hit after that
-- starts a new window. Rows whose window ended are deleted by a periodic cleanup.
CREATE TABLE throttles (
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    origin TEXT NOT NULL,
    failures BIGINT NOT NULL,
    window_ends_at BIGINT NOT NULL,
    PRIMARY KEY (scope, subject, origin)
);
CREATE INDEX throttles_window ON throttles (window_ends_at);
