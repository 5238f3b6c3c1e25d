-- A limit row carries its policy's customer, so that a report batch reads the limit rows of its
-- customers by one index range per customer (docs/postgres-tuning.md §1; both backends run the
-- same read). SQLite adds a NOT NULL column only with a default: 0 names no customer, and every
-- row gets its policy's here and on insert.
ALTER TABLE policy_limits ADD COLUMN customer_id INTEGER NOT NULL DEFAULT 0;
UPDATE policy_limits SET customer_id = (SELECT customer_id FROM policies WHERE policies.id = policy_limits.policy_id);
CREATE INDEX policy_limits_customer ON policy_limits(customer_id, policy_id);

-- A policy moved to another customer (an update of its scope) takes its limit rows with it.
CREATE TRIGGER policy_limits_follow_customer AFTER UPDATE OF customer_id ON policies
    FOR EACH ROW WHEN OLD.customer_id <> NEW.customer_id
BEGIN
    UPDATE policy_limits SET customer_id = NEW.customer_id WHERE policy_id = NEW.id;
END;
