-- Web hook requests whose answer the flow does not wait for (response.ignore), delivered
-- from here: at least once, with the same id and body on every attempt.
CREATE TABLE web_hook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    hook TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX web_hook_deliveries_due ON web_hook_deliveries (status, next_attempt_at);
CREATE INDEX web_hook_deliveries_created ON web_hook_deliveries (created_at, id);
