-- The report log's rows name their resource without a foreign key. Checking one made every
-- report lock its resource's row (FOR KEY SHARE): a row-lock record in the WAL, and after each
-- checkpoint a full-page image of the resource's page, for a key that nothing can break, since a
-- resource is never deleted (its project and offering refuse to go while it exists, and no path
-- deletes one). Without it a report writes about half the WAL: 163 MB against 88 MB for 10 s of
-- reports at 10,000,000 usage rows (docs/postgres-tuning.md §5, bench/RESULTS.md run 24). The log
-- keeps its keys to components and users, which can be deleted. SQLite takes no row locks, so its
-- schema keeps the key.
ALTER TABLE usage_report_log DROP CONSTRAINT IF EXISTS usage_report_log_resource_id_fkey;
