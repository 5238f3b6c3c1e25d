//! `/dashboard/`: the web page meterguard serves itself (docs/dashboard.md). The page and its two
//! assets are compiled into the binary; the page signs in through `/api-auth/password/` and
//! fetches the views below as HTML fragments, rendered here, sending the token as every API call
//! does. Each view is one service call (`service::dashboard`), like any handler.

mod assets;
mod chart;
mod customer_page;
mod dry_run;
mod gauge;
mod grants;
mod overview;
mod shell;

use super::auth::{CurrentUser, Staff};
use super::body::JsonBody;
use super::errors::ApiResult;
use super::query::{path_uuid, text_param};
use super::AppState;
use crate::service::{customers, dashboard, dry_run as dry_runs, policies, ServiceError};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::Markup;
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard/", get(page))
        .route("/dashboard/assets/script/", get(assets::script))
        .route("/dashboard/assets/style/", get(assets::style))
        .route("/dashboard/fragments/overview/", get(overview_fragment))
        .route("/dashboard/fragments/customers/{uuid}/", get(customer_fragment))
        .route("/dashboard/fragments/dry-run/", post(dry_run_fragment))
        .route(
            "/dashboard/fragments/policies/{uuid}/dry-run/",
            post(policy_dry_run_fragment),
        )
}

/// The page itself: the same for everyone, as it holds no data.
async fn page() -> Response {
    html(StatusCode::OK, shell::page())
}

/// The overview, filtered by `q` (a part of a customer's name) and ordered by `sort`
/// (`name`, the default, or `percent`).
async fn overview_fragment(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let query = dashboard::OverviewQuery {
        name: text_param(&params, "q")?,
        order: match params.get("sort").map(String::as_str) {
            Some("percent") => dashboard::OverviewOrder::Percent,
            _ => dashboard::OverviewOrder::Name,
        },
    };
    let overview = dashboard::overview(&state.db, &user, &query, state.clock.now()).await?;
    Ok(html(StatusCode::OK, overview::render(&overview, &query)))
}

/// One customer's page; a customer the caller may not see answers as a missing one.
async fn customer_fragment(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    let Ok(uuid) = path_uuid(&raw, customers::NOT_FOUND) else {
        return Ok(html(StatusCode::NOT_FOUND, customer_page::missing()));
    };
    match dashboard::customer(&state.db, &user, &uuid, state.clock.now()).await {
        Ok(page) => Ok(html(StatusCode::OK, customer_page::render(&page))),
        Err(ServiceError::NotFound(_)) => Ok(html(StatusCode::NOT_FOUND, customer_page::missing())),
        Err(err) => Err(err.into()),
    }
}

/// A new policy's dry run, from the API's body, drawn for the customer's page: the API's door
/// (`service::dry_run`), so a refused body answers the API's 400, and anyone but staff its 403.
async fn dry_run_fragment(
    State(state): State<AppState>,
    Staff(user): Staff,
    JsonBody(input): JsonBody,
) -> ApiResult<Response> {
    let request = super::dry_run::new_request(input);
    let found = dry_runs::of_new(&state.db, &user, request, state.clock.now()).await?;
    Ok(html(StatusCode::OK, dry_run::result(&found)))
}

/// A change to a saved policy, dry run from the API's partial body: the API's door again, with
/// its 404 for a policy that is not there.
async fn policy_dry_run_fragment(
    State(state): State<AppState>,
    Staff(user): Staff,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Response> {
    let uuid = path_uuid(&raw, policies::NOT_FOUND)?;
    let request = super::dry_run::changes_request(input);
    let found = dry_runs::of_policy(&state.db, &user, &uuid, request, state.clock.now()).await?;
    Ok(html(StatusCode::OK, dry_run::result(&found)))
}

fn html(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        markup.into_string(),
    )
        .into_response()
}
