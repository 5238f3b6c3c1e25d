-- The number of policies, kept by triggers in each writing transaction, so an unfiltered staff
-- list reads its X-Result-Count instead of counting the table on every page.
CREATE TABLE policy_count (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    n BIGINT NOT NULL
);
INSERT INTO policy_count (singleton, n) SELECT 1, COUNT(*) FROM policies;

CREATE FUNCTION policy_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE policy_count SET n = n + 1;
    ELSE
        UPDATE policy_count SET n = n - 1;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER policy_count_change AFTER INSERT OR DELETE ON policies
FOR EACH ROW EXECUTE FUNCTION policy_count_change();
