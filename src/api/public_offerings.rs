//! `/api/marketplace-public-offerings/`: the consumers' read-only view of active offerings, with
//! the nested plan URLs orders name (`.../<offering>/plans/<plan>/`).

use super::auth::CurrentUser;
use super::errors::{ApiError, ApiResult};
use super::links::Links;
use super::offerings::render::{self, OfferingOut, PlanOut, View, PUBLIC};
use super::offerings::{list_page, load, path_uuid, NOT_FOUND};
use super::pagination::Paginated;
use super::AppState;
use crate::authz::{Principal, Visibility};
use crate::domain::Uuid32;
use crate::store::{self, offerings::Catalog};
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::routing::get;
use axum::{Json, Router};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("/api/{PUBLIC}/"), get(list))
        .route(&format!("/api/{PUBLIC}/{{uuid}}/"), get(retrieve))
        .route(&format!("/api/{PUBLIC}/{{uuid}}/plans/"), get(plans))
        .route(
            &format!("/api/{PUBLIC}/{{uuid}}/plans/{{plan_uuid}}/"),
            get(plan_retrieve),
        )
}

#[utoipa::path(
    get, path = "/api/marketplace-public-offerings/",
    operation_id = "marketplace_public_offerings_list",
    tag = "marketplace-public-offerings",
    params(
        ("customer_uuid" = Option<String>, Query, format = Uuid),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
    ),
    responses((status = 200, body = Vec<OfferingOut>, headers(("x-result-count" = i64))))
)]
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<OfferingOut>> {
    list_page(&state, links, uri, &q, public(&state, &user), View::Public).await
}

#[utoipa::path(
    get, path = "/api/marketplace-public-offerings/{uuid}/",
    operation_id = "marketplace_public_offerings_retrieve",
    tag = "marketplace-public-offerings",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = OfferingOut))
)]
async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<OfferingOut>> {
    let uuid = path_uuid(&raw)?;
    Ok(Json(
        load(&state, &links, &uuid, public(&state, &user), View::Public).await?,
    ))
}

/// Active offerings, shared or of a customer where the caller holds a role (a private offering
/// looks missing to others).
fn public(state: &AppState, user: &Principal) -> Catalog {
    Catalog::Public(Visibility::of(user, state.clock.now_micros()))
}

/// The plans of an active offering, with their public URLs.
async fn public_plans(state: &AppState, user: &Principal, links: &Links, raw: &str) -> ApiResult<Vec<PlanOut>> {
    let uuid = path_uuid(raw)?;
    let pool = state.db.reader();
    let offering = store::offerings::visible_by_uuid(pool, &uuid, public(state, user))
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok(store::offerings::plans_of(pool, &[offering.id])
        .await?
        .into_iter()
        .map(|p| render::plan(links, View::Public, p))
        .collect())
}

/// A bare array, not paginated (upstream's `plans` action returns the list as is).
#[utoipa::path(
    get, path = "/api/marketplace-public-offerings/{uuid}/plans/",
    operation_id = "marketplace_public_offerings_plans_list",
    tag = "marketplace-public-offerings",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = Vec<PlanOut>))
)]
async fn plans(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<Vec<PlanOut>>> {
    Ok(Json(public_plans(&state, &user, &links, &raw).await?))
}

#[utoipa::path(
    get, path = "/api/marketplace-public-offerings/{uuid}/plans/{plan_uuid}/",
    operation_id = "marketplace_public_offerings_plans_retrieve",
    tag = "marketplace-public-offerings",
    params(
        ("uuid" = String, Path, format = Uuid),
        ("plan_uuid" = String, Path, format = Uuid),
    ),
    responses((status = 200, body = PlanOut))
)]
async fn plan_retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path((raw, plan_raw)): Path<(String, String)>,
) -> ApiResult<Json<PlanOut>> {
    let plans = public_plans(&state, &user, &links, &raw).await?;
    let plan: Uuid32 = plan_raw.parse().map_err(|_| ApiError::not_found())?;
    let hex = plan.to_string();
    plans
        .into_iter()
        .find(|p| p.uuid() == hex)
        .map(Json)
        .ok_or_else(ApiError::not_found)
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(list, retrieve, plans, plan_retrieve))]
pub struct Doc;
