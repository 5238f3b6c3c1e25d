-- Room on every page of the two tables each usage report updates, so that the update can stay on
-- its row's page (a HOT update: no new index entries, no index pages written) instead of moving
-- the row and adding an entry to every index. At 10,000,000 usage rows this cut the WAL written
-- per report from about 11 kB to under 1 kB, and the share of HOT updates of component_usages
-- from 63% to 100% (docs/postgres-tuning.md §2, bench/RESULTS.md run 19). A component_usages row
-- stays HOT only while its indexed columns keep their values: a report that changes `date`
-- updates the date index too.
-- ALTER TABLE sets it for pages written from now on; existing pages get it when the table is
-- rewritten (VACUUM FULL, or pg_repack without a lock), which an operator runs when convenient.
ALTER TABLE component_usages SET (fillfactor = 70);
ALTER TABLE usage_totals SET (fillfactor = 70);
