-- PostgreSQL's 0011 leaves room on the pages of the tables usage reports update (fillfactor).
-- SQLite updates a row in place in its B-tree page and has no such setting: nothing to do here,
-- and the migration exists so both dialects keep the same numbering.
SELECT 1;
