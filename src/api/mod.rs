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
mod health;
mod offerings;
mod policies;
mod projects;
mod providers;
mod public_offerings;
mod roles;
mod schema;
mod users;

use crate::clock::Clock;
use crate::config::Settings;
use crate::store::Db;
use axum::Router;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub clock: Clock,
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
        .fallback(compat::not_found)
        .layer(axum::middleware::from_fn(compat::drf_conventions))
        .with_state(state)
}
