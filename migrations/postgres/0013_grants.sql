-- Grants: temporary top-ups of a policy's limit on one component (docs/grants.md). At any time a
-- limit row's effective limit is its limit plus the amounts of its component's grants active
-- then (starts_at <= t < expires_at).
CREATE TABLE component_grants (
    id              BIGSERIAL PRIMARY KEY,
    uuid            TEXT   NOT NULL UNIQUE,
    policy_id       BIGINT NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    component_id    BIGINT NOT NULL REFERENCES offering_components(id) ON DELETE CASCADE,
    -- Hundredths, as usage amounts.
    amount          BIGINT NOT NULL CHECK (amount > 0),
    starts_at       BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    reason          TEXT   NOT NULL,
    created_by_id   BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created         BIGINT NOT NULL,
    -- The next boundary (starts_at, then expires_at) that no evaluation has processed yet; NULL
    -- once both are. The transaction that processes one moves it on with a conditional update,
    -- so among several instances exactly one evaluates the policy at each boundary.
    next_boundary   BIGINT,
    CHECK (expires_at > starts_at)
);
-- The grants active for a policy's component at an instant (every evaluation reads their sum).
CREATE INDEX component_grants_active ON component_grants(policy_id, component_id, starts_at, expires_at);
-- The scheduler's next boundary.
CREATE INDEX component_grants_boundary ON component_grants(next_boundary) WHERE next_boundary IS NOT NULL;
-- The list, newest first.
CREATE INDEX component_grants_created ON component_grants(created DESC, id DESC);
