-- The number of policies, kept by triggers in each writing transaction, so an unfiltered staff
-- list reads its X-Result-Count instead of counting the table on every page. Sixteen shards (by
-- policy id) so that concurrent creates on PostgreSQL seldom queue on one counter row; the
-- same layout here keeps one query for both.
CREATE TABLE policy_count (
    shard INTEGER PRIMARY KEY CHECK (shard >= 0 AND shard < 16),
    n INTEGER NOT NULL
);
WITH RECURSIVE shards(s) AS (SELECT 0 UNION ALL SELECT s + 1 FROM shards WHERE s < 15)
INSERT INTO policy_count (shard, n)
SELECT s, (SELECT COUNT(*) FROM policies WHERE id % 16 = s) FROM shards;

CREATE TRIGGER policy_count_insert AFTER INSERT ON policies
BEGIN
    UPDATE policy_count SET n = n + 1 WHERE shard = NEW.id % 16;
END;

CREATE TRIGGER policy_count_delete AFTER DELETE ON policies
BEGIN
    UPDATE policy_count SET n = n - 1 WHERE shard = OLD.id % 16;
END;
