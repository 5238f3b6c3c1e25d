-- Identity, structure, catalog and policies. Times are microseconds since the epoch (UTC),
-- uuids 32-char lowercase hex, flags 0/1, JSON as text.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    uuid          TEXT    NOT NULL UNIQUE,
    username      TEXT    NOT NULL UNIQUE,
    email         TEXT    NOT NULL DEFAULT '',
    first_name    TEXT    NOT NULL DEFAULT '',
    last_name     TEXT    NOT NULL DEFAULT '',
    native_name   TEXT    NOT NULL DEFAULT '',
    organization  TEXT    NOT NULL DEFAULT '',
    job_title     TEXT    NOT NULL DEFAULT '',
    phone_number  TEXT    NOT NULL DEFAULT '',
    description   TEXT    NOT NULL DEFAULT '',
    password_hash TEXT,
    is_staff      INTEGER NOT NULL DEFAULT 0,
    is_support    INTEGER NOT NULL DEFAULT 0,
    is_active     INTEGER NOT NULL DEFAULT 1,
    is_system     INTEGER NOT NULL DEFAULT 0,
    token_lifetime INTEGER,
    date_joined   INTEGER NOT NULL
);

CREATE TABLE auth_tokens (
    id       INTEGER PRIMARY KEY,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key_hash TEXT    NOT NULL UNIQUE,
    created  INTEGER NOT NULL
);
CREATE INDEX auth_tokens_user ON auth_tokens(user_id);

CREATE TABLE login_failures (
    id        INTEGER PRIMARY KEY,
    username  TEXT    NOT NULL,
    failed_at INTEGER NOT NULL
);
CREATE INDEX login_failures_username ON login_failures(username, failed_at);

CREATE TABLE customers (
    id               INTEGER PRIMARY KEY,
    uuid             TEXT    NOT NULL UNIQUE,
    name             TEXT    NOT NULL,
    slug             TEXT    NOT NULL DEFAULT '',
    native_name      TEXT    NOT NULL DEFAULT '',
    abbreviation     TEXT    NOT NULL DEFAULT '',
    description      TEXT    NOT NULL DEFAULT '',
    contact_details  TEXT    NOT NULL DEFAULT '',
    email            TEXT    NOT NULL DEFAULT '',
    phone_number     TEXT    NOT NULL DEFAULT '',
    registration_code TEXT   NOT NULL DEFAULT '',
    agreement_number TEXT    NOT NULL DEFAULT '',
    backend_id       TEXT    NOT NULL DEFAULT '',
    domain           TEXT    NOT NULL DEFAULT '',
    homepage         TEXT    NOT NULL DEFAULT '',
    address          TEXT    NOT NULL DEFAULT '',
    postal           TEXT    NOT NULL DEFAULT '',
    country          TEXT    NOT NULL DEFAULT '',
    vat_code         TEXT    NOT NULL DEFAULT '',
    access_subnets   TEXT    NOT NULL DEFAULT '',
    blocked          INTEGER NOT NULL DEFAULT 0,
    archived         INTEGER NOT NULL DEFAULT 0,
    created          INTEGER NOT NULL
);
CREATE INDEX customers_name ON customers(name);

CREATE TABLE projects (
    id          INTEGER PRIMARY KEY,
    uuid        TEXT    NOT NULL UNIQUE,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    slug        TEXT    NOT NULL DEFAULT '',
    description TEXT    NOT NULL DEFAULT '',
    backend_id  TEXT    NOT NULL DEFAULT '',
    start_date  TEXT,
    end_date    TEXT,
    is_removed  INTEGER NOT NULL DEFAULT 0,
    created     INTEGER NOT NULL
);
CREATE INDEX projects_customer ON projects(customer_id);

-- A role on a customer or a project. scope_type is 'customer' or 'project'.
CREATE TABLE user_roles (
    id              INTEGER PRIMARY KEY,
    uuid            TEXT    NOT NULL UNIQUE,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role            TEXT    NOT NULL,
    scope_type      TEXT    NOT NULL,
    scope_id        INTEGER NOT NULL,
    is_active       INTEGER NOT NULL DEFAULT 1,
    expiration_time INTEGER,
    created         INTEGER NOT NULL,
    created_by_id   INTEGER REFERENCES users(id) ON DELETE SET NULL
);
CREATE INDEX user_roles_user ON user_roles(user_id, scope_type, scope_id);
CREATE INDEX user_roles_scope ON user_roles(scope_type, scope_id);

CREATE TABLE service_providers (
    id                   INTEGER PRIMARY KEY,
    uuid                 TEXT    NOT NULL UNIQUE,
    customer_id          INTEGER NOT NULL UNIQUE REFERENCES customers(id) ON DELETE CASCADE,
    description          TEXT    NOT NULL DEFAULT '',
    enable_notifications INTEGER NOT NULL DEFAULT 1,
    created              INTEGER NOT NULL
);

CREATE TABLE categories (
    id          INTEGER PRIMARY KEY,
    uuid        TEXT    NOT NULL UNIQUE,
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    icon        TEXT,
    created     INTEGER NOT NULL
);

CREATE TABLE offerings (
    id             INTEGER PRIMARY KEY,
    uuid           TEXT    NOT NULL UNIQUE,
    customer_id    INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    category_id    INTEGER NOT NULL REFERENCES categories(id),
    name           TEXT    NOT NULL,
    slug           TEXT    NOT NULL DEFAULT '',
    description    TEXT    NOT NULL DEFAULT '',
    full_description TEXT  NOT NULL DEFAULT '',
    type           TEXT    NOT NULL,
    state          TEXT    NOT NULL DEFAULT 'Draft',
    shared         INTEGER NOT NULL DEFAULT 1,
    billable       INTEGER NOT NULL DEFAULT 1,
    plugin_options TEXT    NOT NULL DEFAULT '{}',
    attributes     TEXT    NOT NULL DEFAULT '{}',
    options        TEXT    NOT NULL DEFAULT '{}',
    backend_id     TEXT    NOT NULL DEFAULT '',
    created        INTEGER NOT NULL
);
CREATE INDEX offerings_customer ON offerings(customer_id);

CREATE TABLE offering_components (
    id                  INTEGER PRIMARY KEY,
    uuid                TEXT    NOT NULL UNIQUE,
    offering_id         INTEGER NOT NULL REFERENCES offerings(id) ON DELETE CASCADE,
    type                TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    description         TEXT    NOT NULL DEFAULT '',
    billing_type        TEXT    NOT NULL,
    measured_unit       TEXT    NOT NULL DEFAULT '',
    limit_period        TEXT,
    limit_amount        INTEGER,
    article_code        TEXT    NOT NULL DEFAULT '',
    max_value           INTEGER,
    min_value           INTEGER,
    max_available_limit INTEGER,
    is_boolean          INTEGER NOT NULL DEFAULT 0,
    default_limit       INTEGER,
    created             INTEGER NOT NULL,
    UNIQUE (offering_id, type)
);

CREATE TABLE plans (
    id          INTEGER PRIMARY KEY,
    uuid        TEXT    NOT NULL UNIQUE,
    offering_id INTEGER NOT NULL REFERENCES offerings(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    article_code TEXT   NOT NULL DEFAULT '',
    unit        TEXT    NOT NULL DEFAULT 'month',
    unit_price  TEXT    NOT NULL DEFAULT '0',
    max_amount  INTEGER,
    archived    INTEGER NOT NULL DEFAULT 0,
    prices      TEXT    NOT NULL DEFAULT '{}',
    quotas      TEXT    NOT NULL DEFAULT '{}',
    created     INTEGER NOT NULL
);
CREATE INDEX plans_offering ON plans(offering_id);

CREATE TABLE policies (
    id             INTEGER PRIMARY KEY,
    uuid           TEXT    NOT NULL UNIQUE,
    customer_id    INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    actions        TEXT    NOT NULL,
    options        TEXT    NOT NULL DEFAULT '{}',
    has_fired      INTEGER NOT NULL DEFAULT 0,
    fired_datetime INTEGER,
    created_by_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created        INTEGER NOT NULL,
    modified       INTEGER NOT NULL
);
CREATE INDEX policies_customer ON policies(customer_id);
CREATE INDEX policies_created ON policies(created DESC, id DESC);

CREATE TABLE policy_limits (
    id           INTEGER PRIMARY KEY,
    policy_id    INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    component_id INTEGER NOT NULL REFERENCES offering_components(id) ON DELETE CASCADE,
    limit_value  INTEGER NOT NULL,
    period       INTEGER NOT NULL,
    UNIQUE (policy_id, component_id, period)
);
CREATE INDEX policy_limits_component ON policy_limits(component_id);
