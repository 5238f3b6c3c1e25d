-- A limit row carries its policy's customer, so that a report batch reads the limit rows of its
-- customers in one range scan of an index per customer, instead of one probe of `policy_limits`
-- per policy: at ten times the data, those probes were most of the buffers a report touched
-- (docs/postgres-tuning.md §1).
ALTER TABLE policy_limits ADD COLUMN customer_id BIGINT;
UPDATE policy_limits l SET customer_id = p.customer_id FROM policies p WHERE p.id = l.policy_id;
ALTER TABLE policy_limits ALTER COLUMN customer_id SET NOT NULL;
-- With the values the read needs, so that a vacuumed table answers from the index alone.
CREATE INDEX policy_limits_customer ON policy_limits(customer_id, policy_id)
    INCLUDE (id, component_id, limit_value, period);
-- The planner knows the new column's values before the first report batch plans its read.
ANALYZE policy_limits;

-- A policy moved to another customer (an update of its scope) takes its limit rows with it.
CREATE FUNCTION policy_limits_follow_customer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE policy_limits SET customer_id = NEW.customer_id WHERE policy_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER policy_limits_follow_customer AFTER UPDATE OF customer_id ON policies
    FOR EACH ROW WHEN (OLD.customer_id IS DISTINCT FROM NEW.customer_id)
    EXECUTE FUNCTION policy_limits_follow_customer();
