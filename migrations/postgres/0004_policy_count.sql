-- The number of policies, kept by triggers in each writing transaction, so an unfiltered staff
-- list reads its X-Result-Count instead of counting the table on every page. Sixteen shards (by
-- policy id): a create holds its shard's row lock until it commits, and one shared row made
-- concurrent creates queue on each other.
CREATE TABLE policy_count (
    shard INTEGER PRIMARY KEY CHECK (shard >= 0 AND shard < 16),
    n BIGINT NOT NULL
);
INSERT INTO policy_count (shard, n)
SELECT s, (SELECT COUNT(*) FROM policies WHERE id % 16 = s) FROM generate_series(0, 15) AS s;

CREATE FUNCTION policy_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE policy_count SET n = n + 1 WHERE shard = NEW.id % 16;
    ELSE
        UPDATE policy_count SET n = n - 1 WHERE shard = OLD.id % 16;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER policy_count_change AFTER INSERT OR DELETE ON policies
FOR EACH ROW EXECUTE FUNCTION policy_count_change();
