-- What the Waldur Site Agent keeps in meterguard (docs/site-agent.md): its identities per
-- offering with their services and processors, what a provider records on a resource beside
-- its consumer-side fields, the offering users (a user's account on an offering), per-user usage
-- under a component usage row, per-user limits, and the membership sync statuses it reports.

CREATE TABLE site_agent_identities (
    id                  BIGSERIAL PRIMARY KEY,
    uuid                TEXT    NOT NULL UNIQUE,
    offering_id         BIGINT NOT NULL REFERENCES offerings(id) ON DELETE CASCADE,
    name                TEXT    NOT NULL,
    version             TEXT,
    dependencies        TEXT    NOT NULL DEFAULT '[]',
    config_file_path    TEXT,
    config_file_content TEXT,
    last_restarted      BIGINT,
    created_by_id       BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created             BIGINT NOT NULL,
    modified            BIGINT NOT NULL,
    UNIQUE (offering_id, name)
);

CREATE TABLE site_agent_services (
    id          BIGSERIAL PRIMARY KEY,
    uuid        TEXT    NOT NULL UNIQUE,
    identity_id BIGINT NOT NULL REFERENCES site_agent_identities(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    mode        TEXT,
    created     BIGINT NOT NULL,
    modified    BIGINT NOT NULL,
    UNIQUE (identity_id, name)
);

CREATE TABLE site_agent_processors (
    id              BIGSERIAL PRIMARY KEY,
    uuid            TEXT    NOT NULL UNIQUE,
    service_id      BIGINT NOT NULL REFERENCES site_agent_services(id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    backend_type    TEXT    NOT NULL,
    backend_version TEXT,
    last_run        BIGINT,
    created         BIGINT NOT NULL,
    modified        BIGINT NOT NULL,
    UNIQUE (service_id, name)
);

-- The provider's side of a resource: a row once the provider or its agent wrote any of it.
CREATE TABLE resource_sync (
    resource_id      BIGINT PRIMARY KEY REFERENCES resources(id) ON DELETE CASCADE,
    backend_metadata TEXT    NOT NULL DEFAULT '{}',
    error_message    TEXT    NOT NULL DEFAULT '',
    error_traceback  TEXT    NOT NULL DEFAULT '',
    last_sync        BIGINT
);

CREATE TABLE offering_users (
    id          BIGSERIAL PRIMARY KEY,
    uuid        TEXT    NOT NULL UNIQUE,
    offering_id BIGINT NOT NULL REFERENCES offerings(id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    username    TEXT,
    state       TEXT    NOT NULL,
    created     BIGINT NOT NULL,
    modified    BIGINT NOT NULL,
    UNIQUE (offering_id, user_id)
);
CREATE INDEX offering_users_username ON offering_users(offering_id, username);

-- Per-user usage: how a component usage row's amount splits among the cluster's users. Kept and
-- listed; policies judge the component usage rows alone.
CREATE TABLE component_user_usages (
    id                 BIGSERIAL PRIMARY KEY,
    uuid               TEXT    NOT NULL UNIQUE,
    component_usage_id BIGINT NOT NULL REFERENCES component_usages(id) ON DELETE CASCADE,
    username           TEXT    NOT NULL,
    offering_user_id   BIGINT REFERENCES offering_users(id) ON DELETE SET NULL,
    usage              BIGINT NOT NULL,
    date               BIGINT NOT NULL,
    created            BIGINT NOT NULL,
    modified           BIGINT NOT NULL,
    UNIQUE (component_usage_id, username)
);

CREATE TABLE component_user_usage_limits (
    id               BIGSERIAL PRIMARY KEY,
    uuid             TEXT    NOT NULL UNIQUE,
    resource_id      BIGINT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    component_id     BIGINT NOT NULL REFERENCES offering_components(id) ON DELETE CASCADE,
    offering_user_id BIGINT NOT NULL REFERENCES offering_users(id) ON DELETE CASCADE,
    amount           BIGINT NOT NULL,
    created          BIGINT NOT NULL,
    UNIQUE (resource_id, component_id, offering_user_id)
);

CREATE TABLE membership_sync_statuses (
    resource_id BIGINT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    scope_type  TEXT    NOT NULL,
    role_name   TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    modified    BIGINT NOT NULL,
    PRIMARY KEY (resource_id, user_id, scope_type, role_name)
);
