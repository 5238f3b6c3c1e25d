-- What a usage row held before its latest report, written by the report's upsert itself, so the
-- report learns the difference it makes to the monthly total without reading the row first.
ALTER TABLE component_usages ADD COLUMN previous_usage INTEGER NOT NULL DEFAULT 0;
