-- Mail a person is waiting for (sign-in, sign-up, recovery and verification codes and links)
-- goes out before older mail nobody waits for: workers claim by priority, then age.
ALTER TABLE courier_messages ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
CREATE INDEX courier_messages_claim ON courier_messages (priority DESC, created_at);
-- Text messages go through an HTTP gateway whose request body is a Jsonnet program of the
-- message: it may read the variables the message was rendered with.
ALTER TABLE courier_messages ADD COLUMN template_data TEXT NOT NULL DEFAULT '{}';
