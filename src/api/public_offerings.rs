//! `/api/marketplace-public-offerings/`: the consumers' read-only view of active offerings, with
//! the nested plan URLs orders name (`.../<offering>/plans/<plan>/`; docs/api.md §5.4).

use super::auth::CurrentUser;
use super::errors::{ApiResult, CommonErrors, InputErrors, ObjectErrors};
use super::links::Links;
use super::offerings::list_view;
use super::offerings::render::{OfferingOut, PlanOut, PUBLIC};
use super::pagination::Paginated;
use super::query::path_uuid;
use super::AppState;
use crate::domain::offering::View;
use crate::service::offerings as service;
use crate::service::offerings::NOT_FOUND;
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

/// Active offerings, shared or of a customer where the caller holds a role (a private offering
/// looks missing to others).
#[utoipa::path(
    get, path = "/api/marketplace-public-offerings/",
    operation_id = "marketplace_public_offerings_list",
    tag = "marketplace-public-offerings",
    params(
        ("customer_uuid" = Option<String>, Query, format = Uuid),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
    ),
    responses(
        (status = 200, body = Vec<OfferingOut>, headers(("x-result-count" = i64))),
        InputErrors, ObjectErrors, CommonErrors
    )
)]
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<OfferingOut>> {
    list_view(&state, &user, View::Public, links, uri, &q).await
}

#[utoipa::path(
    get, path = "/api/marketplace-public-offerings/{uuid}/",
    operation_id = "marketplace_public_offerings_retrieve",
    tag = "marketplace-public-offerings",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = OfferingOut), ObjectErrors, CommonErrors)
)]
async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<OfferingOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    let offering = service::retrieve(&state.db, &user, View::Public, &uuid, state.clock.now_micros()).await?;
    Ok(Json(OfferingOut::render(&links, View::Public, offering)))
}

/// A bare array, not paginated (upstream's `plans` action returns the list as is).
#[utoipa::path(
    get, path = "/api/marketplace-public-offerings/{uuid}/plans/",
    operation_id = "marketplace_public_offerings_plans_list",
    tag = "marketplace-public-offerings",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = Vec<PlanOut>), ObjectErrors, CommonErrors)
)]
async fn plans(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<Vec<PlanOut>>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    let plans = service::public_plans(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(Json(
        plans
            .into_iter()
            .map(|p| PlanOut::render(&links, View::Public, p))
            .collect(),
    ))
}

#[utoipa::path(
    get, path = "/api/marketplace-public-offerings/{uuid}/plans/{plan_uuid}/",
    operation_id = "marketplace_public_offerings_plans_retrieve",
    tag = "marketplace-public-offerings",
    params(
        ("uuid" = String, Path, format = Uuid),
        ("plan_uuid" = String, Path, format = Uuid),
    ),
    responses((status = 200, body = PlanOut), ObjectErrors, CommonErrors)
)]
async fn plan_retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path((raw, plan_raw)): Path<(String, String)>,
) -> ApiResult<Json<PlanOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    // A segment that is not a uuid names no plan; the offering is looked up first all the same.
    let plan = plan_raw.parse().ok();
    let plan = service::public_plan(&state.db, &user, &uuid, plan, state.clock.now_micros()).await?;
    Ok(Json(PlanOut::render(&links, View::Public, plan)))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(list, retrieve, plans, plan_retrieve))]
pub struct Doc;
