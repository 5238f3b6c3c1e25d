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
mod dashboard;
mod dry_run;
mod events;
mod grants;
mod health;
mod offering_users;
mod offerings;
mod orders;
mod policies;
mod policy_status;
mod projects;
mod provider_resources;
mod providers;
mod public_offerings;
mod query;
mod request;
mod resources;
mod roles;
mod schema;
mod site_agent;
mod unread_body;
mod usage_reports;
mod usages;
mod user_usages;
mod users;
mod version;

use crate::clock::Clock;
use crate::config::Settings;
use crate::faults::{Faults, Site};
use crate::service::{ActionsConfig, CreateQueue, Db, ReportQueue, UpdateQueue};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;

/// What every handler shares, behind one `Arc`: axum clones the state for each extractor and
/// middleware that asks for it, many times a request, so a clone must be one reference count
/// (cloning the fields themselves, strings and all, took a tenth of a trivial request's CPU).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub db: Db,
    pub actions: ActionsConfig,
    pub settings: Arc<Settings>,
    pub clock: Clock,
    pub tokens: auth::TokenCache,
    pub reports: ReportQueue,
    pub creates: CreateQueue,
    pub updates: UpdateQueue,
}

pub fn router(state: AppState) -> Router {
    let faults = state.settings.faults.clone();
    Router::new()
        .merge(health::router())
        .merge(schema::router())
        .merge(auth_password::router())
        .merge(users::router())
        .merge(customers::router())
        .merge(projects::router())
        .merge(policies::router())
        .merge(dry_run::router())
        .merge(providers::router())
        .merge(categories::router())
        .merge(offerings::router())
        .merge(public_offerings::router())
        .merge(orders::router())
        .merge(resources::router())
        .merge(usages::router())
        .merge(usage_reports::router())
        .merge(events::router())
        .merge(site_agent::router())
        .merge(provider_resources::router())
        .merge(user_usages::router())
        .merge(offering_users::router())
        .merge(version::router())
        .merge(dashboard::router())
        .merge(grants::router())
        .fallback(compat::not_found)
        .route_layer(axum::middleware::from_fn_with_state(faults, handler_fault))
        // A panic anywhere in a request answers 500 with a DRF body and ends only that request;
        // inside the request metrics, so such a 500 is counted like any other.
        .layer(CatchPanicLayer::custom(errors::panicked))
        .layer(axum::middleware::from_fn(crate::telemetry::track_requests))
        .layer(axum::middleware::from_fn(compat::drf_conventions))
        .layer(axum::middleware::from_fn(unread_body::close_if_unread))
        .with_state(state)
}

/// Where a test injects a fault into request handling (see `crate::faults`).
async fn handler_fault(State(faults): State<Faults>, req: Request, next: Next) -> Response {
    if let Err(err) = faults.pass(Site::Handler) {
        return errors::ApiError::from(crate::service::ServiceError::from(err)).into_response();
    }
    next.run(req).await
}
