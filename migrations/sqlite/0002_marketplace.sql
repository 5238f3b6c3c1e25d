-- Resources come into being through orders; providers report usage per resource, component
-- and billing month. Billing months are stored as a month index (year * 12 + month - 1).

CREATE TABLE resources (
    id                     INTEGER PRIMARY KEY,
    uuid                   TEXT    NOT NULL UNIQUE,
    project_id             INTEGER NOT NULL REFERENCES projects(id),
    offering_id            INTEGER NOT NULL REFERENCES offerings(id),
    plan_id                INTEGER REFERENCES plans(id) ON DELETE SET NULL,
    name                   TEXT    NOT NULL,
    description            TEXT    NOT NULL DEFAULT '',
    state                  TEXT    NOT NULL,
    limits                 TEXT    NOT NULL DEFAULT '{}',
    attributes             TEXT    NOT NULL DEFAULT '{}',
    backend_id             TEXT    NOT NULL DEFAULT '',
    end_date               TEXT,
    paused                 INTEGER NOT NULL DEFAULT 0,
    downscaled             INTEGER NOT NULL DEFAULT 0,
    restrict_member_access INTEGER NOT NULL DEFAULT 0,
    created                INTEGER NOT NULL,
    modified               INTEGER NOT NULL
);
CREATE INDEX resources_project ON resources(project_id);
CREATE INDEX resources_offering ON resources(offering_id);

CREATE TABLE orders (
    id                      INTEGER PRIMARY KEY,
    uuid                    TEXT    NOT NULL UNIQUE,
    type                    TEXT    NOT NULL,
    state                   TEXT    NOT NULL,
    project_id              INTEGER NOT NULL REFERENCES projects(id),
    offering_id             INTEGER NOT NULL REFERENCES offerings(id),
    plan_id                 INTEGER REFERENCES plans(id) ON DELETE SET NULL,
    resource_id             INTEGER REFERENCES resources(id),
    attributes              TEXT    NOT NULL DEFAULT '{}',
    limits                  TEXT    NOT NULL DEFAULT '{}',
    error_message           TEXT    NOT NULL DEFAULT '',
    created_by_id           INTEGER REFERENCES users(id) ON DELETE SET NULL,
    consumer_reviewed_by_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    consumer_reviewed_at    INTEGER,
    provider_reviewed_by_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    provider_reviewed_at    INTEGER,
    completed_at            INTEGER,
    created                 INTEGER NOT NULL,
    modified                INTEGER NOT NULL
);
CREATE INDEX orders_project ON orders(project_id);
CREATE INDEX orders_resource ON orders(resource_id);

CREATE TABLE component_usages (
    id             INTEGER PRIMARY KEY,
    uuid           TEXT    NOT NULL UNIQUE,
    resource_id    INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    component_id   INTEGER NOT NULL REFERENCES offering_components(id) ON DELETE CASCADE,
    billing_month  INTEGER NOT NULL,
    usage          INTEGER NOT NULL,
    date           INTEGER NOT NULL,
    description    TEXT    NOT NULL DEFAULT '',
    recurring      INTEGER NOT NULL DEFAULT 0,
    modified_by_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created        INTEGER NOT NULL,
    modified       INTEGER NOT NULL,
    UNIQUE (resource_id, component_id, billing_month)
);
CREATE INDEX component_usages_date ON component_usages(date DESC);

-- Per customer, component and billing month: the sum of its usage rows, kept in the same
-- transaction as every usage write, so evaluations never scan raw usage.
CREATE TABLE usage_totals (
    customer_id   INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    component_id  INTEGER NOT NULL REFERENCES offering_components(id) ON DELETE CASCADE,
    billing_month INTEGER NOT NULL,
    usage         INTEGER NOT NULL,
    PRIMARY KEY (customer_id, component_id, billing_month)
);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    uuid        TEXT    NOT NULL UNIQUE,
    created     INTEGER NOT NULL,
    event_type  TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    context     TEXT    NOT NULL,
    customer_id INTEGER,
    policy_uuid TEXT
);
CREATE INDEX events_customer ON events(customer_id, id DESC);
CREATE INDEX events_type ON events(event_type, id DESC);

-- Effects outside meterguard (emails, webhooks), written in the transaction that decided them
-- and delivered after commit by a worker.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    delivery_key    TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    delivered_at    INTEGER,
    failed_at       INTEGER,
    created         INTEGER NOT NULL
);
CREATE INDEX outbox_pending ON outbox(next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
