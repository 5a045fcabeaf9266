-- Web hook requests whose answer the flow does not wait for (response.ignore), delivered
-- from here: at least once, with the same id and body on every attempt.
CREATE TABLE web_hook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    hook TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX web_hook_deliveries_due ON web_hook_deliveries (status, next_attempt_at);
CREATE INDEX web_hook_deliveries_created ON web_hook_deliveries (created_at, id);
