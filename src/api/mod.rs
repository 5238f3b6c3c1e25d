//! HTTP: one file per resource (types, handlers, router), merged here with the cross-cutting
//! layers.

pub mod auth;
pub mod body;
pub mod errors;
pub mod input;
pub mod links;
pub mod pagination;

mod auth_password;
mod categories;
mod compat;
mod customers;
mod events;
mod health;
mod offerings;
mod orders;
mod policies;
mod policy_status;
mod projects;
mod providers;
mod public_offerings;
mod query;
mod resources;
mod roles;
mod schema;
mod usages;
mod users;

use crate::actions::ActionsConfig;
use crate::clock::Clock;
use crate::config::Settings;
use crate::store::Db;
use axum::Router;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub actions: ActionsConfig,
    pub settings: Arc<Settings>,
    pub clock: Clock,
    pub tokens: auth::TokenCache,
    pub reports: crate::service::report_batch::ReportQueue,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(schema::router())
        .merge(auth_password::router())
        .merge(users::router())
        .merge(customers::router())
        .merge(projects::router())
        .merge(policies::router())
        .merge(providers::router())
        .merge(categories::router())
        .merge(offerings::router())
        .merge(public_offerings::router())
        .merge(orders::router())
        .merge(resources::router())
        .merge(usages::router())
        .merge(events::router())
        .fallback(compat::not_found)
        .layer(axum::middleware::from_fn(crate::telemetry::track_requests))
        .layer(axum::middleware::from_fn(compat::drf_conventions))
        .with_state(state)
}
