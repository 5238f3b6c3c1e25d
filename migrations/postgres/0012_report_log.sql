-- Every accepted usage report, appended in the transaction that writes it: set_usage replaces
-- the month's amount, so the amounts it replaced live only here. A deletion of a usage row is
-- logged as a report of 0 with deleted = 1 (docs/api.md §8.4).
CREATE TABLE usage_report_log (
    id             BIGSERIAL PRIMARY KEY,
    resource_id    BIGINT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    component_id   BIGINT NOT NULL REFERENCES offering_components(id) ON DELETE CASCADE,
    billing_month  BIGINT NOT NULL,
    amount         BIGINT NOT NULL,
    reported_at    BIGINT NOT NULL,
    reported_by_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    deleted        BIGINT NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1))
);
-- The list, newest first.
CREATE INDEX usage_report_log_reported ON usage_report_log(reported_at DESC, id DESC);
-- A resource's reports in time order (its list filter; a replay's reads).
CREATE INDEX usage_report_log_resource ON usage_report_log(resource_id, reported_at);
