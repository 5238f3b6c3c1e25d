-- Customers and projects have slugs, as upstream: made from the name when one is created
-- without a slug, kept on a rename (docs/api.md §3). Rows from before that have no slug, or one
-- a client set that is not a slug (letters, digits, hyphens and underscores, at most 50), get
-- `customer-<id>` / `project-<id>`: the database cannot slugify their names, and these have the
-- shape of a made slug, so the next one made from the same stem numbers past them.
UPDATE customers SET slug = 'customer-' || id WHERE slug !~ '^[-a-zA-Z0-9_]{1,50}$';
UPDATE projects SET slug = 'project-' || id WHERE slug !~ '^[-a-zA-Z0-9_]{1,50}$';
