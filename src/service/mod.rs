//! Use cases: one function per operation, each one transaction. They read through `store`,
//! decide through `domain` and the `engine`, and write through `store`.
//!
//! The handles the API's shared state holds and hands to use cases are re-exported here, so the
//! API names only `service`: `Db` (the database pools), `ActionsConfig` (the actions' settings,
//! with the bell of the delivery worker), `ReportQueue` (the usage reports' writer), and
//! `CreateQueue` and `UpdateQueue` (the policy creates' and changes' writers).

pub use crate::actions::ActionsConfig;
pub use crate::store::Db;
pub use policy_creates::CreateQueue;
pub use policy_updates::UpdateQueue;
pub use report_batch::ReportQueue;

use crate::store;

pub mod access;
pub mod blocks;
pub mod categories;
pub mod checked;
pub mod customers;
pub mod dashboard;
pub mod dry_run;
pub mod evaluation;
pub mod events;
pub mod grace;
pub mod grant_boundaries;
pub mod grants;
pub mod group_commit;
pub mod health;
pub mod identity;
pub mod offering_users;
pub mod offerings;
pub mod orders;
pub mod parsed;
pub mod policies;
pub mod policy_creates;
pub mod policy_status;
pub mod policy_updates;
pub mod projects;
pub mod provider_resources;
pub mod providers;
pub mod report_batch;
pub mod report_log;
pub mod resources;
pub mod retention;
pub mod roles;
pub mod scheduler;
pub mod site_agent;
pub mod sweep;
pub mod usage;
pub mod user_usages;
pub mod users;

/// What a use case can fail with: a client mistake (rendered as a DRF body by the API) or an
/// internal failure.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A non-field error, rendered as a bare `["message"]`.
    #[error("{0}")]
    Rejected(String),
    /// A field error found while writing (a uniqueness clash), rendered as `{"field": ["message"]}`.
    #[error("{0}: {1}")]
    Field(&'static str, String),
    /// The object is not in a state that allows the operation (409).
    #[error("{0}")]
    Conflict(String),
    /// The object does not exist, or the caller may not see it (404 with this detail).
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// A prepared DRF body for a 400, as `{"field": ["message"]}` or a bare `["message"]`.
    #[error("invalid: {0}")]
    Invalid(serde_json::Value),
    /// The caller may not do this to this object (403).
    #[error("permission denied")]
    Forbidden,
    /// The database cannot be reached now, or the service is stopping (503).
    #[error("service unavailable")]
    Unavailable,
    /// Any other database failure (500).
    #[error(transparent)]
    Database(sqlx::Error),
}

/// A database error is `Unavailable` when the database cannot be reached now (an outage, a
/// restart, every connection busy: `store::unreachable`), so the same request may succeed
/// later; otherwise a fault.
impl From<sqlx::Error> for ServiceError {
    fn from(err: sqlx::Error) -> Self {
        if store::unreachable(&err) {
            tracing::warn!(error = %err, "database unreachable");
            Self::Unavailable
        } else {
            Self::Database(err)
        }
    }
}

/// Whether a failure, wrapped with context on its way, is the database being unreachable now.
pub fn unreachable_cause(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<sqlx::Error>().is_some_and(store::unreachable))
}

impl From<crate::domain::page::InvalidPage> for ServiceError {
    fn from(_: crate::domain::page::InvalidPage) -> Self {
        Self::NotFound("Invalid page.")
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
