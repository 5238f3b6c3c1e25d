-- The enforcement ladder (docs/ladder.md). The defaults are upstream's behaviour: no warning
-- thresholds, a reset as soon as no row is over its limit, no action waiting.

-- Ascending percentages separated by commas, '' for none.
ALTER TABLE policies ADD COLUMN warning_thresholds TEXT NOT NULL DEFAULT '';
ALTER TABLE policies ADD COLUMN reset_below_percent INTEGER NOT NULL DEFAULT 100
    CHECK (reset_below_percent BETWEEN 1 AND 100);
-- The highest threshold reached at the last evaluation; NULL for none.
ALTER TABLE policies ADD COLUMN warning_level INTEGER;

-- Actions of a fired policy waiting out their grace period. A row exists only while its action
-- waits: applying it deletes the row in the transaction that applies it (a conditional delete,
-- so two instances never both apply it), and a reset deletes the rows it drops.
CREATE TABLE policy_pending_actions (
    policy_id INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    action    TEXT    NOT NULL,
    due       INTEGER NOT NULL,
    -- The crossing it belongs to: the policy's fired_datetime when it fired.
    fired_at  INTEGER NOT NULL,
    PRIMARY KEY (policy_id, action)
);
CREATE INDEX policy_pending_actions_due ON policy_pending_actions(due);
