-- The report log's rows name their component and reporter without foreign keys; what the keys
-- did on a deletion, triggers on the deleted tables now do. Each key made every logged report run
-- a check that locks the referenced row (FOR KEY SHARE), two lookups a report: the batch's
-- component and staff user rows were locked by every batch, and two instances' batches shared
-- those locks as multixacts (docs/postgres-tuning.md §5).
--
-- A report logged while its component is being deleted may outlive the deletion's trigger as a
-- row that names no component. Such a row is never shown: the log's list and a dry run's replay
-- read a row only together with its component (store::report_log, store::replay), and ids are
-- never reused. SQLite takes no row locks, so its schema keeps the keys.
ALTER TABLE usage_report_log DROP CONSTRAINT IF EXISTS usage_report_log_component_id_fkey;
ALTER TABLE usage_report_log DROP CONSTRAINT IF EXISTS usage_report_log_reported_by_id_fkey;

-- The key's ON DELETE CASCADE.
CREATE FUNCTION usage_report_log_forget_components() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM usage_report_log WHERE component_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;
CREATE TRIGGER usage_report_log_forget_components AFTER DELETE ON offering_components
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION usage_report_log_forget_components();

-- The key's ON DELETE SET NULL.
CREATE FUNCTION usage_report_log_forget_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE usage_report_log SET reported_by_id = NULL WHERE reported_by_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;
CREATE TRIGGER usage_report_log_forget_users AFTER DELETE ON users
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION usage_report_log_forget_users();
