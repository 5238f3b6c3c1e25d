-- The number of policies, kept by triggers in each writing transaction, so an unfiltered staff
-- list reads its X-Result-Count instead of counting the table on every page.
CREATE TABLE policy_count (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    n INTEGER NOT NULL
);
INSERT INTO policy_count (singleton, n) SELECT 1, COUNT(*) FROM policies;

CREATE TRIGGER policy_count_insert AFTER INSERT ON policies
BEGIN
    UPDATE policy_count SET n = n + 1;
END;

CREATE TRIGGER policy_count_delete AFTER DELETE ON policies
BEGIN
    UPDATE policy_count SET n = n - 1;
END;
