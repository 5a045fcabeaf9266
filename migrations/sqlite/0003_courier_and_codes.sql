-- The courier's queue. A message is written in the same transaction as the flow change that
-- causes it; a worker claims due messages (status 'processing' with a lease), delivers them and
-- marks them 'sent', or schedules a retry. A lease that runs out makes the message due again,
-- so a worker that dies mid-batch loses nothing.
CREATE TABLE courier_messages (
    id TEXT PRIMARY KEY NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    template_type TEXT NOT NULL,
    send_count INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX courier_messages_due ON courier_messages (status, next_attempt_at);
CREATE INDEX courier_messages_recipient ON courier_messages (recipient);
CREATE INDEX courier_messages_created ON courier_messages (created_at, id);

-- One row per delivery attempt.
CREATE TABLE courier_message_dispatches (
    id TEXT PRIMARY KEY NOT NULL,
    message_id TEXT NOT NULL REFERENCES courier_messages (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX courier_message_dispatches_message ON courier_message_dispatches (message_id);

-- One-time codes and link tokens of recovery and verification. Only a keyed hash is stored.
CREATE TABLE selfservice_codes (
    id TEXT PRIMARY KEY NOT NULL,
    flow_id TEXT NOT NULL REFERENCES selfservice_flows (id) ON DELETE CASCADE,
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    address TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX selfservice_codes_flow ON selfservice_codes (flow_id);

-- Settings flows belong to an identity; every flow keeps what its strategies need between
-- steps (the address a code went to, wrong attempts) in internal_context.
ALTER TABLE selfservice_flows ADD COLUMN identity_id TEXT;
ALTER TABLE selfservice_flows ADD COLUMN internal_context TEXT NOT NULL DEFAULT '{}';
