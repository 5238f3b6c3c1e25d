//! A resource as its provider sees it (docs/site-agent.md): the resource, and what the provider
//! or its agent recorded on it (backend metadata, the last error, the last sync).

use super::resource::Resource;
use super::time::Micros;
use super::Uuid32;

#[derive(Debug, Clone)]
pub struct ProviderResource {
    pub resource: Resource,
    pub sync: ResourceSync,
}

/// The provider's side of a resource, with the slugs the agent names accounts by.
#[derive(Debug, Clone, Default)]
pub struct ResourceSync {
    pub project_slug: String,
    pub customer_slug: String,
    /// A JSON object, as the agent sent it.
    pub backend_metadata: String,
    pub error_message: String,
    pub error_traceback: String,
    pub last_sync: Option<Micros>,
}

/// A member of a resource's project, as the agent syncs accounts for it.
#[derive(Debug, Clone)]
pub struct TeamMember {
    pub user_uuid: Uuid32,
    pub username: String,
    pub full_name: String,
    pub email: String,
    /// Upstream's role name, e.g. `PROJECT.ADMIN`.
    pub role: &'static str,
    pub expiration_time: Option<Micros>,
    /// The member's account on the resource's offering, if it has one.
    pub offering_user_username: Option<String>,
    pub offering_user_state: Option<&'static str>,
}

/// The scope a membership sync status is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncScope {
    Resource,
    ResourceProject,
}

impl SyncScope {
    pub const ALL: [SyncScope; 2] = [SyncScope::Resource, SyncScope::ResourceProject];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resource => "resource",
            Self::ResourceProject => "resource_project",
        }
    }
}

/// Whether a role grant landed on the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncState {
    Pending,
    Synced,
    Error,
    MissingInIdp,
}

impl SyncState {
    pub const ALL: [SyncState; 4] = [Self::Pending, Self::Synced, Self::Error, Self::MissingInIdp];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Synced => "synced",
            Self::Error => "error",
            Self::MissingInIdp => "missing_in_idp",
        }
    }
}

/// One entry of a membership sync report; the user is named by username or uuid.
#[derive(Debug, Clone)]
pub struct SyncStatus {
    pub username: Option<String>,
    pub user_uuid: Option<Uuid32>,
    pub scope: SyncScope,
    pub role_name: String,
    pub state: SyncState,
    pub message: String,
}

/// What a membership sync report did: how many entries it stored, and the users it skipped
/// (unknown to meterguard).
#[derive(Debug, Clone, Default)]
pub struct SyncReportResult {
    pub stored: i64,
    pub skipped: Vec<String>,
}
