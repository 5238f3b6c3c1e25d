-- Tokens expire after a stretch without use, so each remembers when it was last used.
ALTER TABLE auth_tokens ADD COLUMN last_used BIGINT NOT NULL DEFAULT 0;
UPDATE auth_tokens SET last_used = created;

-- Failed logins are counted per (username, client address) in one row, which a single upsert
-- checks and bumps at once: parallel wrong guesses cannot all read the count before any of them
-- writes it. The old one-row-per-failure table held only short-lived lockout state.
DROP TABLE login_failures;
CREATE TABLE login_failures (
    username       TEXT    NOT NULL,
    client_ip      TEXT    NOT NULL,
    failures       BIGINT  NOT NULL,
    last_failed_at BIGINT  NOT NULL,
    PRIMARY KEY (username, client_ip)
);
CREATE INDEX login_failures_last ON login_failures(last_failed_at);

-- One active grant per user, role and scope, even when two requests add it at once. Duplicates
-- from before keep their newest grant active.
UPDATE user_roles SET is_active = 0
 WHERE is_active = 1
   AND id NOT IN (SELECT MAX(id) FROM user_roles WHERE is_active = 1
                  GROUP BY user_id, role, scope_type, scope_id);
CREATE UNIQUE INDEX user_roles_one_active ON user_roles(user_id, role, scope_type, scope_id)
 WHERE is_active = 1;

CREATE INDEX events_created ON events(created);
CREATE INDEX outbox_delivered ON outbox(delivered_at) WHERE delivered_at IS NOT NULL;
