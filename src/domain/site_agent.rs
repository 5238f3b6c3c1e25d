//! The Waldur Site Agent as meterguard records it (docs/site-agent.md): an identity per agent and
//! offering, the services it runs (its modes), and the processors each service registered,
//! with when each last registered, so an operator sees which agent last reported and when.

use super::time::Micros;
use super::Uuid32;

/// A package the agent runs with, as it reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dependency {
    pub package: String,
    pub version: String,
}

#[derive(Debug, Clone)]
pub struct AgentIdentity {
    pub id: i64,
    pub uuid: Uuid32,
    pub offering_uuid: Uuid32,
    /// The offering's customer: the provider the agent works for.
    pub provider_customer_id: i64,
    pub name: String,
    pub version: Option<String>,
    pub dependencies: Vec<Dependency>,
    pub config_file_path: Option<String>,
    pub config_file_content: Option<String>,
    pub last_restarted: Option<Micros>,
    pub created_by_uuid: Option<Uuid32>,
    pub created: Micros,
    pub modified: Micros,
    pub services: Vec<AgentService>,
}

/// What an identity's create or update sets (the offering is resolved by the use case).
#[derive(Debug, Clone)]
pub struct IdentityFields {
    pub name: String,
    pub version: Option<String>,
    pub dependencies: Vec<Dependency>,
    pub config_file_path: Option<String>,
    pub config_file_content: Option<String>,
    pub last_restarted: Option<Micros>,
}

#[derive(Debug, Clone)]
pub struct AgentService {
    pub id: i64,
    pub uuid: Uuid32,
    pub identity_uuid: Uuid32,
    pub identity_name: String,
    pub provider_customer_id: i64,
    pub name: String,
    pub mode: Option<String>,
    pub created: Micros,
    /// When the agent last registered the service: each of its cycles does.
    pub modified: Micros,
    pub processors: Vec<AgentProcessor>,
}

#[derive(Debug, Clone)]
pub struct AgentProcessor {
    pub uuid: Uuid32,
    pub service_id: i64,
    pub name: String,
    pub backend_type: String,
    pub backend_version: Option<String>,
    /// When the agent last registered the processor, right before it processed the offering.
    pub last_run: Option<Micros>,
    pub created: Micros,
    pub modified: Micros,
}

/// What registering a processor sets.
#[derive(Debug, Clone)]
pub struct ProcessorFields {
    pub name: String,
    pub backend_type: String,
    pub backend_version: Option<String>,
}

/// Which identities a list holds; uuids are hex.
#[derive(Debug, Clone, Default)]
pub struct IdentityFilter {
    pub name: Option<String>,
    pub offering_uuid: Option<String>,
}

/// Which services a list holds; uuids are hex.
#[derive(Debug, Clone, Default)]
pub struct ServiceFilter {
    pub identity_uuid: Option<String>,
    pub offering_uuid: Option<String>,
}
