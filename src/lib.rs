//! meterguard keeps organizations inside their usage limits: a Waldur-compatible service for
//! marketplace customer component usage policies.

pub mod actions;
pub mod api;
pub mod authz;
pub mod clock;
pub mod config;
pub mod domain;
pub mod engine;
pub mod faults;
pub mod service;
pub mod startup;
pub mod store;
pub mod supervisor;
pub mod telemetry;
