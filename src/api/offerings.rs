//! `/api/marketplace-provider-offerings/`: the provider's view of offerings (create with inline
//! components and plans, list, retrieve, delete, `activate/`, the component actions), and the
//! provider's plan detail `/api/marketplace-plans/{uuid}/`.

mod input;
pub(super) mod render;

use super::auth::{CurrentUser, Staff};
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult};
use super::input::{check_uuid, Input, NOT_NULL, REQUIRED};
use super::links::Links;
use super::pagination::Paginated;
use super::query::uuid_param;
use super::AppState;
use crate::authz::{Principal, Visibility};
use crate::domain::page::PageRequest;
use crate::domain::Uuid32;
use crate::service::offerings as service;
use crate::store::{self, offerings::Catalog, offerings::ComponentRow, offerings::OfferingRow};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use render::{ComponentOut, OfferingOut, PlanOut, View, PLANS, PROVIDER};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use utoipa::ToSchema;

pub(super) const NOT_FOUND: &str = "No Offering matches the given query.";
const PLAN_NOT_FOUND: &str = "No Plan matches the given query.";

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

pub(super) fn path_uuid(raw: &str) -> ApiResult<Uuid32> {
    raw.parse().map_err(|_| ApiError::NotFound(NOT_FOUND))
}

/// Staff and support see every offering; others those of customers where they hold a role.
fn provider_view(state: &AppState, user: &Principal) -> Catalog {
    Catalog::Provider(Visibility::of(user, state.clock.now_micros()))
}

/// One page of a catalog, filtered by `customer_uuid`; shared with the public view.
pub(super) async fn list_page(
    state: &AppState,
    links: Links,
    uri: Uri,
    q: &HashMap<String, String>,
    catalog: Catalog,
    view: View,
) -> ApiResult<Paginated<OfferingOut>> {
    let customer = uuid_param(q, "customer_uuid")?;
    let request = PageRequest::from_query(q)?;
    let pool = state.db.reader();
    let total = store::offerings::count(pool, catalog, customer.as_deref()).await?;
    let page = request.resolve(total)?;
    let rows = store::offerings::list(pool, catalog, customer.as_deref(), page.limit(), page.offset()).await?;
    let items = render::offerings(pool, &links, view, rows).await?;
    Ok(Paginated {
        items,
        page,
        links,
        uri,
    })
}

/// One offering the catalog shows, rendered; 404 otherwise.
pub(super) async fn load(
    state: &AppState,
    links: &Links,
    uuid: &Uuid32,
    catalog: Catalog,
    view: View,
) -> ApiResult<OfferingOut> {
    let pool = state.db.reader();
    let row = store::offerings::visible_by_uuid(pool, uuid, catalog)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    render::offerings(pool, links, view, vec![row])
        .await?
        .pop()
        .ok_or(ApiError::NotFound(NOT_FOUND))
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
    responses((status = 200, body = Vec<OfferingOut>, headers(("x-result-count" = i64))))
)]
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<OfferingOut>> {
    let catalog = provider_view(&state, &user);
    list_page(&state, links, uri, &q, catalog, View::Provider).await
}

#[utoipa::path(
    get, path = "/api/marketplace-provider-offerings/{uuid}/",
    operation_id = "marketplace_provider_offerings_retrieve",
    tag = "marketplace-provider-offerings",
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
    let catalog = provider_view(&state, &user);
    Ok(Json(load(&state, &links, &uuid, catalog, View::Provider).await?))
}

#[utoipa::path(
    post, path = "/api/marketplace-provider-offerings/",
    operation_id = "marketplace_provider_offerings_create",
    tag = "marketplace-provider-offerings",
    request_body = OfferingCreateRequest,
    responses((status = 201, body = OfferingOut))
)]
async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<OfferingOut>)> {
    // As upstream, the body is validated first: the customer it names decides who may create.
    let new = input::offering(&state, body, &user).await?;
    authorize(&state, &user, new.fields.customer_id).await?;
    let uuid = service::create(&state.db, &new, state.clock.now_micros()).await?;
    let catalog = provider_view(&state, &user);
    let out = load(&state, &links, &uuid, catalog, View::Provider).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Staff, or an owner or service manager of the provider customer.
async fn authorize(state: &AppState, user: &Principal, customer_id: i64) -> ApiResult<()> {
    if user.is_staff {
        return Ok(());
    }
    let now = state.clock.now_micros();
    let roles = crate::store::roles::load(state.db.reader(), user, customer_id, None, now).await?;
    if roles.is_provider_manager() {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied)
    }
}

/// The offering a component action names: 404 when invisible, 403 when not the caller's to manage.
async fn managed_offering(state: &AppState, user: &Principal, raw: &str) -> ApiResult<OfferingRow> {
    let uuid = path_uuid(raw)?;
    let row = store::offerings::visible_by_uuid(state.db.reader(), &uuid, provider_view(state, user))
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    authorize(state, user, row.customer_id).await?;
    Ok(row)
}

/// `uuid` of the component an action names (the client sends it hyphenated).
fn component_uuid(body: &Input) -> ApiResult<Uuid32> {
    match body.raw("uuid") {
        None => Err(ApiError::field("uuid", REQUIRED)),
        Some(Value::Null) => Err(ApiError::field("uuid", NOT_NULL)),
        Some(v) => check_uuid(v).map_err(|msg| ApiError::field("uuid", msg)),
    }
}

/// The offering's component with this uuid; 404 otherwise.
async fn existing_component(state: &AppState, offering_id: i64, uuid: &Uuid32) -> ApiResult<ComponentRow> {
    let hex = uuid.to_string();
    store::offerings::components_of(state.db.reader(), &[offering_id])
        .await?
        .into_iter()
        .find(|c| c.uuid == hex)
        .ok_or_else(ApiError::not_found)
}

/// 201 with the new component (upstream sends no body; the client ignores it).
async fn create_component(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<ComponentOut>)> {
    let offering = managed_offering(&state, &user, &raw).await?;
    let fields = input::component(body)?;
    let now = state.clock.now_micros();
    let uuid = service::add_component(&state.db, offering.id, &fields, now).await?;
    Ok((StatusCode::CREATED, Json(ComponentOut::new(uuid.to_string(), fields))))
}

/// A partial update of one component; 200 with the component.
async fn update_component(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<ComponentOut>> {
    let offering = managed_offering(&state, &user, &raw).await?;
    let mut body = body.partial(true);
    let uuid = component_uuid(&body)?;
    // Upstream looks the component up before it validates the fields.
    existing_component(&state, offering.id, &uuid).await?;
    let patch = input::ComponentPatch::read(&mut body);
    body.finish()?;
    if !service::update_component(&state.db, offering.id, &uuid, |f| patch.apply(f)).await? {
        return Err(ApiError::not_found());
    }
    let row = existing_component(&state, offering.id, &uuid).await?;
    Ok(Json(ComponentOut::new(row.uuid.clone(), row.into())))
}

/// 200 with no body, as upstream and the client expect; policy limits on it go with it.
async fn remove_component(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    let offering = managed_offering(&state, &user, &raw).await?;
    let uuid = component_uuid(&body)?;
    if service::remove_component(&state.db, &state.actions, offering.id, &uuid, state.clock.now()).await? {
        Ok(StatusCode::OK)
    } else {
        Err(ApiError::not_found())
    }
}

/// Staff only, checked before the lookup (upstream's `activate_permissions = [is_staff]`).
async fn activate(State(state): State<AppState>, Staff(_): Staff, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    let uuid = path_uuid(&raw)?;
    let state = service::activate(&state.db, &uuid)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok(Json(
        json!({"detail": "Offering state updated.", "state": state.as_str()}),
    ))
}

async fn destroy(State(state): State<AppState>, Staff(_): Staff, Path(raw): Path<String>) -> ApiResult<StatusCode> {
    let uuid = path_uuid(&raw)?;
    if service::delete(&state.db, &state.actions, &uuid, state.clock.now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(NOT_FOUND))
    }
}

/// A plan with the provider offering it belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanDetailOut {
    #[serde(flatten)]
    plan: PlanOut,
    offering: String,
    offering_uuid: String,
}

#[utoipa::path(
    get, path = "/api/marketplace-plans/{uuid}/",
    operation_id = "marketplace_plans_retrieve",
    tag = "marketplace-plans",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = PlanDetailOut))
)]
async fn plan_retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<PlanDetailOut>> {
    let uuid: Uuid32 = raw.parse().map_err(|_| ApiError::NotFound(PLAN_NOT_FOUND))?;
    let row = store::offerings::visible_plan(state.db.reader(), &uuid, provider_view(&state, &user))
        .await?
        .ok_or(ApiError::NotFound(PLAN_NOT_FOUND))?;
    let offering_uuid = row.offering_uuid.clone();
    Ok(Json(PlanDetailOut {
        offering: links.detail_hex(PROVIDER, &offering_uuid),
        offering_uuid,
        plan: render::plan(&links, View::Provider, row),
    }))
}

/// The create body as documented; the handler reads it field by field with DRF's messages.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OfferingCreateRequest {
    #[schema(max_length = 150)]
    name: String,
    /// A category URL.
    category: String,
    #[schema(max_length = 100)]
    r#type: String,
    /// The URL of a customer registered as a service provider.
    customer: String,
    description: Option<String>,
    full_description: Option<String>,
    shared: Option<bool>,
    billable: Option<bool>,
    #[schema(value_type = Option<Object>)]
    plugin_options: Option<Value>,
    #[schema(value_type = Option<Object>)]
    attributes: Option<Value>,
    #[schema(value_type = Option<Object>)]
    options: Option<Value>,
    backend_id: Option<String>,
    components: Option<Vec<ComponentRequest>>,
    plans: Option<Vec<PlanRequest>>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ComponentRequest {
    /// fixed, usage, limit, one or few.
    billing_type: String,
    #[schema(max_length = 50, pattern = r"^[a-zA-Z0-9_\-\/:]+$")]
    r#type: String,
    #[schema(max_length = 150)]
    name: String,
    description: Option<String>,
    measured_unit: Option<String>,
    /// month, quarterly, annual, total or null.
    limit_period: Option<String>,
    limit_amount: Option<i64>,
    article_code: Option<String>,
    max_value: Option<i64>,
    min_value: Option<i64>,
    max_available_limit: Option<i64>,
    is_boolean: Option<bool>,
    default_limit: Option<i64>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PlanRequest {
    #[schema(max_length = 150)]
    name: String,
    description: Option<String>,
    article_code: Option<String>,
    /// month, quarter, half_month, day, hour or quantity (default month).
    unit: Option<String>,
    /// A decimal string, at most 7 decimal places.
    unit_price: Option<String>,
    #[schema(minimum = 1, maximum = 32767)]
    max_amount: Option<i64>,
    archived: Option<bool>,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, retrieve, create, plan_retrieve),
    components(schemas(
        OfferingOut,
        render::ComponentOut,
        PlanOut,
        PlanDetailOut,
        OfferingCreateRequest,
        ComponentRequest,
        PlanRequest
    ))
)]
pub struct Doc;
