//! `/api/marketplace-provider-offerings/`: the provider's view of offerings (create with inline
//! components and plans, list, retrieve, delete, `activate/`, the component actions), and the
//! provider's plan detail `/api/marketplace-plans/{uuid}/` (docs/api.md §5.3).

mod input;
pub(super) mod render;

use super::auth::{CurrentUser, Staff};
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult, CommonErrors, ConflictErrors, ForbiddenErrors, InputErrors, ObjectErrors};
use super::links::Links;
use super::pagination::Paginated;
use super::query::path_uuid;
use super::query::uuid_param;
use super::request::deferred;
use super::AppState;
use crate::authz::Principal;
use crate::domain::offering::View;
use crate::domain::page::PageRequest;
use crate::domain::Uuid32;
use crate::service::offerings::{self as service, OfferingFilter, NOT_FOUND, PLAN_NOT_FOUND};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use input::{
    BillingTypeChoice, ComponentChanges, ComponentRemoveRequest, ComponentRequest, ComponentUpdateRequest,
    LimitPeriodChoice, OfferingCreateRequest, PlanRequest, PlanUnitChoice,
};
use render::{ComponentOut, DetailStateOut, OfferingOut, PlanDetailOut, PlanOut, PLANS, PROVIDER};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    let item = |action: &str| format!("/api/{PROVIDER}/{{uuid}}/{action}");
    Router::new()
        .route(&format!("/api/{PROVIDER}/"), get(list).post(create))
        .route(&item(""), get(retrieve).delete(destroy))
        .route(&item("activate/"), post(activate))
        .route(&item("create_offering_component/"), post(create_component))
        .route(&item("update_offering_component/"), post(update_component))
        .route(&item("remove_offering_component/"), post(remove_component))
        .route(&format!("/api/{PLANS}/{{uuid}}/"), get(plan_retrieve))
}

/// One page of a view of the catalogue, filtered by `customer_uuid`; shared with the public view.
pub(super) async fn list_view(
    state: &AppState,
    user: &Principal,
    view: View,
    links: Links,
    uri: Uri,
    q: &HashMap<String, String>,
) -> ApiResult<Paginated<OfferingOut>> {
    let filter = OfferingFilter {
        customer_uuid: uuid_param(q, "customer_uuid")?,
    };
    let page = PageRequest::from_query(q)?;
    let listed = service::list(&state.db, user, view, &filter, page, state.clock.now_micros()).await?;
    Ok(Paginated {
        items: listed
            .items
            .into_iter()
            .map(|o| OfferingOut::render(&links, view, o))
            .collect(),
        page: listed.page,
        links,
        uri,
    })
}

#[utoipa::path(
    get, path = "/api/marketplace-provider-offerings/",
    operation_id = "marketplace_provider_offerings_list",
    tag = "marketplace-provider-offerings",
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
    list_view(&state, &user, View::Provider, links, uri, &q).await
}

#[utoipa::path(
    get, path = "/api/marketplace-provider-offerings/{uuid}/",
    operation_id = "marketplace_provider_offerings_retrieve",
    tag = "marketplace-provider-offerings",
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
    let offering = service::retrieve(&state.db, &user, View::Provider, &uuid, state.clock.now_micros()).await?;
    Ok(Json(OfferingOut::render(&links, View::Provider, offering)))
}

/// As upstream, the body is validated first (its customer and category included); then the
/// customer it names decides who may create: staff, or its owners and managers.
#[utoipa::path(
    post, path = "/api/marketplace-provider-offerings/",
    operation_id = "marketplace_provider_offerings_create",
    tag = "marketplace-provider-offerings",
    request_body = OfferingCreateRequest,
    responses((status = 201, body = OfferingOut), InputErrors, ForbiddenErrors, CommonErrors)
)]
async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    JsonBody(input): JsonBody,
) -> ApiResult<(StatusCode, Json<OfferingOut>)> {
    let request = OfferingCreateRequest::parse(input, &user)?;
    let offering = service::create(&state.db, &user, request.into(), state.clock.now_micros()).await?;
    Ok((
        StatusCode::CREATED,
        Json(OfferingOut::render(&links, View::Provider, offering)),
    ))
}

/// Staff only, checked before the lookup (upstream's `activate_permissions = [is_staff]`). The
/// offering must have a plan, and be a Draft or Paused.
#[utoipa::path(
    post, path = "/api/marketplace-provider-offerings/{uuid}/activate/",
    operation_id = "marketplace_provider_offerings_activate",
    tag = "marketplace-provider-offerings",
    params(("uuid" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = DetailStateOut),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn activate(
    State(state): State<AppState>,
    Staff(_): Staff,
    Path(raw): Path<String>,
) -> ApiResult<Json<DetailStateOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    let activated = service::activate(&state.db, &uuid).await?;
    Ok(Json(DetailStateOut::activated(activated)))
}

/// Staff only. Policy limits on its components go with it; an offering with resources stays.
#[utoipa::path(
    delete, path = "/api/marketplace-provider-offerings/{uuid}/",
    operation_id = "marketplace_provider_offerings_destroy",
    tag = "marketplace-provider-offerings",
    params(("uuid" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "No response body"),
        ForbiddenErrors, ObjectErrors, ConflictErrors, CommonErrors
    )
)]
async fn destroy(State(state): State<AppState>, Staff(_): Staff, Path(raw): Path<String>) -> ApiResult<StatusCode> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    service::delete(&state.db, &state.actions, &uuid, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 201 with the new component (upstream sends no body; the client ignores it).
#[utoipa::path(
    post, path = "/api/marketplace-provider-offerings/{uuid}/create_offering_component/",
    operation_id = "marketplace_provider_offerings_create_offering_component",
    tag = "marketplace-provider-offerings",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = ComponentRequest,
    responses(
        (status = 201, body = ComponentOut),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn create_component(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<(StatusCode, Json<ComponentOut>)> {
    let offering = path_uuid(&raw, NOT_FOUND)?;
    let fields = deferred(ComponentRequest::parse(input))?.map(Into::into);
    let now = state.clock.now_micros();
    let component = service::add_component(&state.db, &user, &offering, fields, now).await?;
    Ok((StatusCode::CREATED, Json(ComponentOut::render(component))))
}

/// A partial update of the component named by `uuid`; 200 with the component.
#[utoipa::path(
    post, path = "/api/marketplace-provider-offerings/{uuid}/update_offering_component/",
    operation_id = "marketplace_provider_offerings_update_offering_component",
    tag = "marketplace-provider-offerings",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = ComponentUpdateRequest,
    responses(
        (status = 200, body = ComponentOut),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn update_component(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<ComponentOut>> {
    let offering = path_uuid(&raw, NOT_FOUND)?;
    let request = ComponentUpdateRequest::parse(input)?;
    let now = state.clock.now_micros();
    let component = service::update_component(&state.db, &user, &offering, request.into(), now).await?;
    Ok(Json(ComponentOut::render(component)))
}

/// 200 with no body, as upstream and the client expect; policy limits on the component go
/// with it.
#[utoipa::path(
    post, path = "/api/marketplace-provider-offerings/{uuid}/remove_offering_component/",
    operation_id = "marketplace_provider_offerings_remove_offering_component",
    tag = "marketplace-provider-offerings",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = ComponentRemoveRequest,
    responses(
        (status = 200, description = "No response body"),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn remove_component(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<StatusCode> {
    let offering = path_uuid(&raw, NOT_FOUND)?;
    let component = ComponentRemoveRequest::parse(input)?.component();
    service::remove_component(
        &state.db,
        &state.actions,
        &user,
        &offering,
        component,
        state.clock.now(),
    )
    .await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(
    get, path = "/api/marketplace-plans/{uuid}/",
    operation_id = "marketplace_plans_retrieve",
    tag = "marketplace-plans",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = PlanDetailOut), ObjectErrors, CommonErrors)
)]
async fn plan_retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<PlanDetailOut>> {
    let uuid: Uuid32 = raw.parse().map_err(|_| ApiError::NotFound(PLAN_NOT_FOUND))?;
    let plan = service::plan(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(Json(PlanDetailOut::render(&links, plan)))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        retrieve,
        create,
        activate,
        destroy,
        create_component,
        update_component,
        remove_component,
        plan_retrieve
    ),
    components(schemas(
        OfferingOut,
        ComponentOut,
        PlanOut,
        PlanDetailOut,
        DetailStateOut,
        OfferingCreateRequest,
        ComponentRequest,
        ComponentChanges,
        ComponentUpdateRequest,
        ComponentRemoveRequest,
        PlanRequest,
        BillingTypeChoice,
        LimitPeriodChoice,
        PlanUnitChoice
    ))
)]
pub struct Doc;
