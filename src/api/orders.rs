//! `/api/marketplace-orders/`: placing orders and moving them through their states.

use super::auth::CurrentUser;
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult, CommonErrors, ConflictErrors, ForbiddenErrors, InputErrors, ObjectErrors};
use super::input::{check_text, Input, Need, Text};
use super::links::{self, Links};
use super::pagination::Paginated;
use super::query::path_uuid;
use super::query::{choices_param, object, uuid_param};
use super::request::deferred;
use super::AppState;
use crate::domain::marketplace::{OrderState, OrderStep, OrderType, RESOURCE_NAME_MAX};
use crate::domain::order::{Order, OrderFilter};
use crate::domain::page::PageRequest;
use crate::domain::{time, ResourceLimits, Uuid32};
use crate::service::orders::{self as service, OrderDraft, PlanLink};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use utoipa::ToSchema;

const COLLECTION: &str = "marketplace-orders";

pub fn router() -> Router<AppState> {
    let step = |name: &str| format!("/api/{COLLECTION}/{{uuid}}/{name}/");
    Router::new()
        .route(&format!("/api/{COLLECTION}/"), get(list).post(create))
        .route(&format!("/api/{COLLECTION}/{{uuid}}/"), get(retrieve))
        .route(&step("approve_by_consumer"), post(approve_by_consumer))
        .route(&step("reject_by_consumer"), post(reject_by_consumer))
        .route(&step("approve_by_provider"), post(approve_by_provider))
        .route(&step("reject_by_provider"), post(reject_by_provider))
        .route(&step("cancel"), post(cancel))
        .route(&step("set_state_done"), post(set_state_done))
        .route(&step("set_state_erred"), post(set_state_erred))
}

/// An order as upstream serialises it, keys in upstream order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderOut {
    url: String,
    uuid: String,
    /// `Create`, `Update` or `Terminate`.
    r#type: &'static str,
    /// `pending-consumer`, `pending-provider`, `executing`, `done`, `erred`, `canceled` or
    /// `rejected`.
    state: &'static str,
    offering: String,
    offering_uuid: String,
    offering_name: String,
    offering_type: String,
    provider_uuid: String,
    provider_name: String,
    plan: Option<String>,
    plan_uuid: Option<String>,
    plan_name: Option<String>,
    project: String,
    project_uuid: String,
    project_name: String,
    customer_uuid: String,
    customer_name: String,
    #[schema(value_type = Object)]
    attributes: Value,
    #[schema(value_type = Object)]
    limits: Value,
    resource_uuid: Option<String>,
    resource_name: Option<String>,
    marketplace_resource_uuid: Option<String>,
    error_message: String,
    #[schema(format = DateTime)]
    created: String,
    #[schema(format = DateTime)]
    modified: String,
    created_by_username: String,
    created_by_full_name: String,
    consumer_reviewed_by_username: Option<String>,
    #[schema(format = DateTime)]
    consumer_reviewed_at: Option<String>,
    provider_reviewed_by_username: Option<String>,
    #[schema(format = DateTime)]
    provider_reviewed_at: Option<String>,
    #[schema(format = DateTime)]
    completed_at: Option<String>,
}

impl OrderOut {
    fn render(links: &Links, o: Order) -> Self {
        let full_name = format!(
            "{} {}",
            o.created_by_first_name.unwrap_or_default(),
            o.created_by_last_name.unwrap_or_default()
        );
        let offering_uuid = o.offering_uuid.to_string();
        let plan_uuid = o.plan_uuid.map(|p| p.to_string());
        let resource_uuid = o.resource_uuid.map(|r| r.to_string());
        Self {
            url: links.detail(COLLECTION, &o.uuid),
            uuid: o.uuid.to_string(),
            r#type: o.kind.as_str(),
            state: o.state.as_str(),
            offering: links.detail("marketplace-public-offerings", &o.offering_uuid),
            plan: plan_uuid.as_ref().map(|p| {
                format!(
                    "{}/api/marketplace-public-offerings/{offering_uuid}/plans/{p}/",
                    links.base()
                )
            }),
            offering_uuid,
            offering_name: o.offering_name,
            offering_type: o.offering_type,
            provider_uuid: o.provider_uuid.to_string(),
            provider_name: o.provider_name,
            plan_uuid,
            plan_name: o.plan_name,
            project: links.detail("projects", &o.project_uuid),
            project_uuid: o.project_uuid.to_string(),
            project_name: o.project_name,
            customer_uuid: o.customer_uuid.to_string(),
            customer_name: o.customer_name,
            attributes: object(&o.attributes),
            limits: object(&o.limits),
            marketplace_resource_uuid: resource_uuid.clone(),
            resource_uuid,
            resource_name: o.resource_name,
            error_message: o.error_message,
            created: time::render(o.created),
            modified: time::render(o.modified),
            created_by_username: o.created_by_username.unwrap_or_default(),
            created_by_full_name: full_name.trim().to_string(),
            consumer_reviewed_by_username: o.consumer_reviewed_by_username,
            consumer_reviewed_at: o.consumer_reviewed_at.map(time::render),
            provider_reviewed_by_username: o.provider_reviewed_by_username,
            provider_reviewed_at: o.provider_reviewed_at.map(time::render),
            completed_at: o.completed_at.map(time::render),
        }
    }
}

/// What a step of an order answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderStepOut {
    detail: String,
}

#[utoipa::path(
    get, path = "/api/marketplace-orders/",
    operation_id = "marketplace_orders_list",
    tag = "marketplace-orders",
    params(
        ("customer_uuid" = Option<String>, Query, format = Uuid),
        ("offering_uuid" = Option<String>, Query, format = Uuid),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
        ("project_uuid" = Option<String>, Query, format = Uuid),
        ("provider_uuid" = Option<String>, Query, format = Uuid),
        ("resource_uuid" = Option<String>, Query, format = Uuid),
        ("state" = Option<Vec<String>>, Query, explode,
            description = "Any of: pending-consumer, pending-provider, executing, done, erred, canceled, rejected."),
        ("type" = Option<Vec<String>>, Query, explode, description = "Any of: Create, Update, Terminate."),
    ),
    responses(
        (status = 200, body = Vec<OrderOut>, headers(("x-result-count" = i64), ("link" = String))),
        InputErrors, ObjectErrors, CommonErrors
    )
)]
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Paginated<OrderOut>> {
    let filter = OrderFilter {
        customer_uuid: uuid_param(&q, "customer_uuid")?,
        project_uuid: uuid_param(&q, "project_uuid")?,
        resource_uuid: uuid_param(&q, "resource_uuid")?,
        offering_uuid: uuid_param(&q, "offering_uuid")?,
        provider_uuid: uuid_param(&q, "provider_uuid")?,
        states: choices(raw.as_deref(), "state", OrderState::parse)?,
        kinds: choices(raw.as_deref(), "type", OrderType::parse)?,
    };
    let request = PageRequest::from_query(&q)?;
    let listed = service::list(&state.db, &user, &filter, request, state.clock.now_micros()).await?;
    Ok(Paginated {
        items: listed.items.into_iter().map(|o| OrderOut::render(&links, o)).collect(),
        page: listed.page,
        links,
        uri,
    })
}

/// A multiple-choice filter's values, each a name `parse` knows.
pub(super) fn choices<T>(raw: Option<&str>, key: &str, parse: fn(&str) -> Option<T>) -> ApiResult<Vec<T>> {
    let names = choices_param(raw, key, |s| parse(s).is_some())?;
    Ok(names.iter().filter_map(|s| parse(s)).collect())
}

#[utoipa::path(
    get, path = "/api/marketplace-orders/{uuid}/",
    operation_id = "marketplace_orders_retrieve",
    tag = "marketplace-orders",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = OrderOut), ObjectErrors, CommonErrors)
)]
async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<OrderOut>> {
    let uuid = path_uuid(&raw, service::NOT_FOUND)?;
    let order = service::retrieve(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(Json(OrderOut::render(&links, order)))
}

/// A Create order and its resource (state Creating), for staff, customer owners and project
/// managers and admins (docs/api.md §6).
#[utoipa::path(
    post, path = "/api/marketplace-orders/",
    operation_id = "marketplace_orders_create",
    tag = "marketplace-orders",
    request_body = OrderCreateRequest,
    responses((status = 201, body = OrderOut), InputErrors, ForbiddenErrors, CommonErrors)
)]
async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    JsonBody(input): JsonBody,
) -> ApiResult<(StatusCode, Json<OrderOut>)> {
    let request = OrderCreateRequest::parse(input)?;
    let order = service::create(&state.db, &user, request.into(), state.clock.now_micros()).await?;
    Ok((StatusCode::CREATED, Json(OrderOut::render(&links, order))))
}

/// A Create order: what to order, from which plan, for which project.
// Read without the database: the hyperlinks resolved to the uuids they name, and the fields
// refused so far kept for the service, which reports them together with what its lookups
// refuse, as DRF reports every field at once.
#[derive(Debug, ToSchema)]
pub struct OrderCreateRequest {
    /// A public offering's URL.
    #[schema(value_type = String, format = "uri")]
    offering: Option<Uuid32>,
    /// One of the offering's plans, as a URL nested under it
    /// (`.../marketplace-public-offerings/<uuid>/plans/<uuid>/`).
    #[schema(value_type = String, format = "uri", required = false)]
    plan: Option<PlanLink>,
    /// The project's URL.
    #[schema(value_type = String, format = "uri")]
    project: Option<Uuid32>,
    /// Only `Create` is accepted (blank means it too); every order placed here is one.
    #[schema(value_type = String, required = false)]
    #[allow(dead_code)]
    r#type: OrderType,
    /// Kept as sent; `name` (at most 150 characters) and `description` name the resource.
    #[schema(value_type = Object, required = false)]
    attributes: Map<String, Value>,
    /// Component type → a whole amount, never negative.
    #[schema(value_type = HashMap<String, u64>, required = false)]
    limits: ResourceLimits,
    #[schema(ignore)]
    refused: Map<String, Value>,
}

impl OrderCreateRequest {
    fn parse(mut input: Input) -> ApiResult<Self> {
        let mut offering = None;
        if let Some(value) = input.present("offering", Need::Required) {
            match links::resolve(&value, "marketplace-public-offerings") {
                Ok(uuid) => offering = Some(uuid),
                Err(e) => input.errors.add("offering", e.message()),
            }
        }
        let mut plan = None;
        if let Some(value) = input.present("plan", Need::Optional) {
            match links::resolve_nested(&value, "marketplace-public-offerings", "plans") {
                Ok((offering, plan_uuid)) => {
                    plan = Some(PlanLink {
                        offering,
                        plan: plan_uuid,
                    })
                }
                Err(e) => input.errors.add("plan", e.message()),
            }
        }
        let mut project = None;
        if let Some(value) = input.present("project", Need::Required) {
            match links::resolve(&value, "projects") {
                Ok(uuid) => project = Some(uuid),
                Err(e) => input.errors.add("project", e.message()),
            }
        }
        if let Some(kind) = input.text("type", Text::OPTIONAL) {
            if OrderType::parse(&kind) != Some(OrderType::Create) && !kind.is_empty() {
                input.errors.add("type", format!("\"{kind}\" is not a valid choice."));
            }
        }
        let attributes = input.object("attributes").unwrap_or_default();
        // The name becomes the resource's, which PUT and PATCH hold to the same length.
        if let Some(name) = attributes.get("name").and_then(Value::as_str) {
            if let Err(msg) = check_text(&json!(name.trim()), Text::OPTIONAL.max(RESOURCE_NAME_MAX)) {
                input.errors.set("attributes", json!({ "name": [msg] }));
            }
        }
        let limits = input.limits("limits", Need::Optional).unwrap_or_default();
        let refused = match deferred(input.finish())? {
            Ok(()) => Map::new(),
            Err(Value::Object(errors)) => errors,
            Err(other) => return Err(ApiError::Validation(other)),
        };
        Ok(Self {
            offering,
            plan,
            project,
            r#type: OrderType::Create,
            attributes,
            limits,
            refused,
        })
    }
}

impl From<OrderCreateRequest> for OrderDraft {
    fn from(request: OrderCreateRequest) -> Self {
        let text = |key: &str| {
            request
                .attributes
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        OrderDraft {
            offering: request.offering,
            plan: request.plan,
            project: request.project,
            name: text("name").trim().to_string(),
            description: text("description"),
            attributes: Value::Object(request.attributes).to_string(),
            limits: request.limits,
            refused: request.refused,
        }
    }
}

/// `set_state_erred/`: why the order failed.
#[derive(Debug, ToSchema)]
pub struct OrderErrorDetailsRequest {
    #[schema(value_type = String, max_length = 10000, required = false)]
    error_message: Option<String>,
}

impl OrderErrorDetailsRequest {
    fn parse(mut input: Input) -> ApiResult<Self> {
        let error_message = input.text("error_message", Text::OPTIONAL.max(10_000));
        input.finish()?;
        Ok(Self { error_message })
    }
}

/// Every step: the order must be one the caller sees and the step the caller's to take
/// (docs/api.md §6); then the body, then the order's state.
async fn take_step(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
    step: OrderStep,
) -> ApiResult<(StatusCode, Json<OrderStepOut>)> {
    let uuid = path_uuid(&raw, service::NOT_FOUND)?;
    let error_message = match step {
        OrderStep::SetErred => deferred(OrderErrorDetailsRequest::parse(input))?.map(|r| r.error_message),
        _ => Ok(None),
    };
    service::take_step(&state.db, &user, &uuid, step, error_message, state.clock.now_micros()).await?;
    let (status, detail) = match step {
        OrderStep::ApproveByConsumer | OrderStep::ApproveByProvider => (StatusCode::OK, "Order has been approved."),
        OrderStep::RejectByConsumer | OrderStep::RejectByProvider => (StatusCode::OK, "Order has been rejected."),
        OrderStep::Cancel => (StatusCode::ACCEPTED, "Order has been canceled."),
        OrderStep::SetDone | OrderStep::SetErred => (StatusCode::OK, "Order state has been updated."),
    };
    let detail = detail.to_string();
    Ok((status, Json(OrderStepOut { detail })))
}

type StepReply = ApiResult<(StatusCode, Json<OrderStepOut>)>;

/// pending-consumer → pending-provider.
#[utoipa::path(
    post, path = "/api/marketplace-orders/{uuid}/approve_by_consumer/",
    operation_id = "marketplace_orders_approve_by_consumer",
    tag = "marketplace-orders",
    params(("uuid" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = OrderStepOut),
        InputErrors, ForbiddenErrors, ObjectErrors, ConflictErrors, CommonErrors
    )
)]
async fn approve_by_consumer(
    state: State<AppState>,
    user: CurrentUser,
    path: Path<String>,
    body: JsonBody,
) -> StepReply {
    take_step(state, user, path, body, OrderStep::ApproveByConsumer).await
}

/// pending-consumer → rejected.
#[utoipa::path(
    post, path = "/api/marketplace-orders/{uuid}/reject_by_consumer/",
    operation_id = "marketplace_orders_reject_by_consumer",
    tag = "marketplace-orders",
    params(("uuid" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = OrderStepOut),
        InputErrors, ForbiddenErrors, ObjectErrors, ConflictErrors, CommonErrors
    )
)]
async fn reject_by_consumer(
    state: State<AppState>,
    user: CurrentUser,
    path: Path<String>,
    body: JsonBody,
) -> StepReply {
    take_step(state, user, path, body, OrderStep::RejectByConsumer).await
}

/// pending-provider → executing.
#[utoipa::path(
    post, path = "/api/marketplace-orders/{uuid}/approve_by_provider/",
    operation_id = "marketplace_orders_approve_by_provider",
    tag = "marketplace-orders",
    params(("uuid" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = OrderStepOut),
        InputErrors, ForbiddenErrors, ObjectErrors, ConflictErrors, CommonErrors
    )
)]
async fn approve_by_provider(
    state: State<AppState>,
    user: CurrentUser,
    path: Path<String>,
    body: JsonBody,
) -> StepReply {
    take_step(state, user, path, body, OrderStep::ApproveByProvider).await
}

/// pending-provider → rejected.
#[utoipa::path(
    post, path = "/api/marketplace-orders/{uuid}/reject_by_provider/",
    operation_id = "marketplace_orders_reject_by_provider",
    tag = "marketplace-orders",
    params(("uuid" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = OrderStepOut),
        InputErrors, ForbiddenErrors, ObjectErrors, ConflictErrors, CommonErrors
    )
)]
async fn reject_by_provider(
    state: State<AppState>,
    user: CurrentUser,
    path: Path<String>,
    body: JsonBody,
) -> StepReply {
    take_step(state, user, path, body, OrderStep::RejectByProvider).await
}

/// pending-consumer or pending-provider → canceled.
#[utoipa::path(
    post, path = "/api/marketplace-orders/{uuid}/cancel/",
    operation_id = "marketplace_orders_cancel",
    tag = "marketplace-orders",
    params(("uuid" = String, Path, format = Uuid)),
    responses(
        (status = 202, body = OrderStepOut),
        InputErrors, ForbiddenErrors, ObjectErrors, ConflictErrors, CommonErrors
    )
)]
async fn cancel(state: State<AppState>, user: CurrentUser, path: Path<String>, body: JsonBody) -> StepReply {
    take_step(state, user, path, body, OrderStep::Cancel).await
}

/// executing → done, which the order's resource follows.
#[utoipa::path(
    post, path = "/api/marketplace-orders/{uuid}/set_state_done/",
    operation_id = "marketplace_orders_set_state_done",
    tag = "marketplace-orders",
    params(("uuid" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = OrderStepOut),
        InputErrors, ForbiddenErrors, ObjectErrors, ConflictErrors, CommonErrors
    )
)]
async fn set_state_done(state: State<AppState>, user: CurrentUser, path: Path<String>, body: JsonBody) -> StepReply {
    take_step(state, user, path, body, OrderStep::SetDone).await
}

/// executing → erred, with an optional `error_message`.
#[utoipa::path(
    post, path = "/api/marketplace-orders/{uuid}/set_state_erred/",
    operation_id = "marketplace_orders_set_state_erred",
    tag = "marketplace-orders",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = OrderErrorDetailsRequest,
    responses(
        (status = 200, body = OrderStepOut),
        InputErrors, ForbiddenErrors, ObjectErrors, ConflictErrors, CommonErrors
    )
)]
async fn set_state_erred(state: State<AppState>, user: CurrentUser, path: Path<String>, body: JsonBody) -> StepReply {
    take_step(state, user, path, body, OrderStep::SetErred).await
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        retrieve,
        create,
        approve_by_consumer,
        reject_by_consumer,
        approve_by_provider,
        reject_by_provider,
        cancel,
        set_state_done,
        set_state_erred
    ),
    components(schemas(OrderOut, OrderStepOut, OrderCreateRequest, OrderErrorDetailsRequest))
)]
pub struct Doc;
