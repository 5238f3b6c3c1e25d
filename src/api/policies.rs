//! `/api/marketplace-customer-component-usage-policies/`

use super::auth::{CurrentUser, Staff};
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult, CommonErrors, ForbiddenErrors, InputErrors};
use super::input::python_type;
use super::input::{check_integer, check_uuid, Input, Need, NOT_NULL, REQUIRED};
use super::links::{self, Links};
use super::pagination::Paginated;
use super::query::{object, uuid_param};
use super::AppState;
use crate::authz::{Principal, Visibility};
use crate::domain::options::PolicyOptions;
use crate::domain::page::PageRequest;
use crate::domain::{time, Action, ActionSet, Period, Uuid32};
use crate::service::policies::{self as service, LimitDraft, PolicyChanges};
use crate::store::{self, policies::PolicyFilter};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use utoipa::ToSchema;

const COLLECTION: &str = "marketplace-customer-component-usage-policies";
const NOT_FOUND: &str = "No CustomerComponentUsagePolicy matches the given query.";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("/api/{COLLECTION}/"), get(list).post(create))
        .route(&format!("/api/{COLLECTION}/actions/"), get(actions))
        .route(
            &format!("/api/{COLLECTION}/{{uuid}}/"),
            get(retrieve).put(update).patch(partial_update).delete(destroy),
        )
        .route(
            &format!("/api/{COLLECTION}/{{uuid}}/status/"),
            get(super::policy_status::status),
        )
}

/// A policy as upstream serialises it, keys in upstream order.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyOut {
    uuid: String,
    url: String,
    scope: String,
    scope_name: String,
    scope_uuid: String,
    actions: String,
    created: String,
    created_by_full_name: String,
    created_by_username: String,
    has_fired: bool,
    fired_datetime: Option<String>,
    #[schema(value_type = Object)]
    options: Value,
    affected_resources_count: i64,
    component_limits_set: Vec<LimitOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LimitOut {
    r#type: String,
    limit: i64,
    period: i64,
    period_name: String,
    component: String,
}

fn render(links: &Links, row: store::policies::PolicyRow, limits: Vec<LimitOut>, affected: i64) -> PolicyOut {
    let full_name = format!(
        "{} {}",
        row.created_by_first_name.unwrap_or_default(),
        row.created_by_last_name.unwrap_or_default()
    );
    let has_fired = row.has_fired != 0;
    PolicyOut {
        url: links.detail_hex(COLLECTION, &row.uuid),
        scope: links.detail_hex("customers", &row.customer_uuid),
        uuid: row.uuid,
        scope_name: row.customer_name,
        scope_uuid: row.customer_uuid,
        actions: row.actions,
        created: time::render(row.created),
        created_by_full_name: full_name.trim().to_string(),
        created_by_username: row.created_by_username.unwrap_or_default(),
        has_fired,
        fired_datetime: row.fired_datetime.map(time::render),
        options: object(&row.options),
        affected_resources_count: affected,
        component_limits_set: limits,
    }
}

/// Renders policies as the API shows them; fired ones count the resources their actions affect.
async fn render_all(
    state: &AppState,
    links: &Links,
    views: Vec<store::policies::PolicyView>,
    vis: Visibility,
) -> ApiResult<Vec<PolicyOut>> {
    let mut out = Vec::with_capacity(views.len());
    for store::policies::PolicyView { row, limits } in views {
        let limits = limits
            .into_iter()
            .map(|l| {
                let period = Period::from_code(l.period).unwrap_or(Period::DEFAULT);
                LimitOut {
                    r#type: l.component_type,
                    limit: l.limit_value,
                    period: period.code(),
                    period_name: period.name().to_string(),
                    component: l.component_uuid,
                }
            })
            .collect();
        let affected =
            service::affected_resources(&state.db, row.customer_id, &row.actions, row.has_fired != 0, vis).await?;
        out.push(render(links, row, limits, affected));
    }
    Ok(out)
}

async fn render_one(
    state: &AppState,
    links: &Links,
    view: Option<store::policies::PolicyView>,
    vis: Visibility,
) -> ApiResult<PolicyOut> {
    let view = view.ok_or(ApiError::NotFound(NOT_FOUND))?;
    render_all(state, links, vec![view], vis)
        .await?
        .pop()
        .ok_or(ApiError::NotFound(NOT_FOUND))
}

fn path_uuid(raw: &str) -> ApiResult<Uuid32> {
    raw.parse().map_err(|_| ApiError::NotFound(NOT_FOUND))
}

#[utoipa::path(
    get, path = "/api/marketplace-customer-component-usage-policies/",
    operation_id = "marketplace_customer_component_usage_policies_list",
    tag = "marketplace-customer-component-usage-policies",
    params(
        ("customer" = Option<String>, Query),
        ("customer_uuid" = Option<String>, Query, format = Uuid),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
        ("scope" = Option<String>, Query),
        ("scope_uuid" = Option<String>, Query, format = Uuid),
    ),
    responses((status = 200, body = Vec<PolicyOut>, headers(("x-result-count" = i64))))
)]
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<PolicyOut>> {
    let filter = filter_from(&q)?;
    let request = PageRequest::from_query(&q)?;
    let vis = Visibility::of(&user, state.clock.now_micros());
    let db = state.db.reader();
    // A numbered page inside the list is one query, its total included; "last" needs the count
    // first, and a page past the end (no rows, so no total) needs it to say so.
    let (views, total) = match request.offset() {
        Some(offset) => store::policies::page(db, vis, &filter, request.size, offset).await?,
        None => {
            let total = store::policies::count(db, vis, &filter).await?;
            let last = request.resolve(total)?;
            (
                store::policies::page(db, vis, &filter, last.limit(), last.offset())
                    .await?
                    .0,
                Some(total),
            )
        }
    };
    let total = match total {
        Some(total) => total,
        None => store::policies::count(db, vis, &filter).await?,
    };
    let page = request.resolve(total)?;
    let items = render_all(&state, &links, views, vis).await?;
    Ok(Paginated {
        items,
        page,
        links,
        uri,
    })
}

/// `customer`/`scope` take a customer URL (anything else matches nothing); `customer_uuid`/
/// `scope_uuid` take a uuid (anything else is a 400).
fn filter_from(q: &HashMap<String, String>) -> ApiResult<PolicyFilter> {
    let mut filter = PolicyFilter::default();
    for key in ["customer", "scope"] {
        match q.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => {}
            Some(v) => match links::resolve(&json!(v), "customers") {
                Ok(uuid) => filter.customer_uuids.push(uuid.to_string()),
                Err(_) => filter.matches_nothing = true,
            },
        }
    }
    for key in ["customer_uuid", "scope_uuid"] {
        filter.customer_uuids.extend(uuid_param(q, key)?);
    }
    Ok(filter)
}

#[utoipa::path(
    get, path = "/api/marketplace-customer-component-usage-policies/{uuid}/",
    operation_id = "marketplace_customer_component_usage_policies_retrieve",
    tag = "marketplace-customer-component-usage-policies",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = PolicyOut))
)]
async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<PolicyOut>> {
    let uuid = path_uuid(&raw)?;
    let vis = Visibility::of(&user, state.clock.now_micros());
    let view = store::policies::visible_by_uuid(state.db.reader(), &uuid, vis).await?;
    Ok(Json(render_one(&state, &links, view, vis).await?))
}

#[utoipa::path(
    get, path = "/api/marketplace-customer-component-usage-policies/actions/",
    operation_id = "marketplace_customer_component_usage_policies_actions_retrieve",
    tag = "marketplace-customer-component-usage-policies",
    responses((status = 200, body = Vec<String>, description = "The available action names, sorted."))
)]
async fn actions(CurrentUser(_): CurrentUser) -> Json<Vec<&'static str>> {
    Json(Action::sorted_names())
}

#[utoipa::path(
    post, path = "/api/marketplace-customer-component-usage-policies/",
    operation_id = "marketplace_customer_component_usage_policies_create",
    tag = "marketplace-customer-component-usage-policies",
    request_body = PolicyRequest,
    responses((status = 201, body = PolicyOut), InputErrors, ForbiddenErrors, CommonErrors)
)]
async fn create(
    State(state): State<AppState>,
    Staff(user): Staff,
    links: Links,
    JsonBody(input): JsonBody,
) -> ApiResult<(StatusCode, Json<PolicyOut>)> {
    let fields = parse_fields(&state, input).await?;
    let id = service::create(&state.db, &state.actions, user.id, fields, state.clock.now()).await?;
    let out = load_by_id(&state, &links, id, &user).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

async fn load_by_id(state: &AppState, links: &Links, id: i64, user: &Principal) -> ApiResult<PolicyOut> {
    let view = store::policies::by_id(state.db.reader(), id).await?;
    render_one(state, links, view, Visibility::of(user, state.clock.now_micros())).await
}

#[utoipa::path(
    put, path = "/api/marketplace-customer-component-usage-policies/{uuid}/",
    operation_id = "marketplace_customer_component_usage_policies_update",
    tag = "marketplace-customer-component-usage-policies",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = PolicyRequest,
    responses((status = 200, body = PolicyOut))
)]
async fn update(
    state: State<AppState>,
    staff: Staff,
    links: Links,
    path: Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<PolicyOut>> {
    save(state, staff, links, path, input).await
}

#[utoipa::path(
    patch, path = "/api/marketplace-customer-component-usage-policies/{uuid}/",
    operation_id = "marketplace_customer_component_usage_policies_partial_update",
    tag = "marketplace-customer-component-usage-policies",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = PatchedPolicyRequest,
    responses((status = 200, body = PolicyOut))
)]
async fn partial_update(
    state: State<AppState>,
    staff: Staff,
    links: Links,
    path: Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<PolicyOut>> {
    save(state, staff, links, path, input).await
}

async fn save(
    State(state): State<AppState>,
    Staff(user): Staff,
    links: Links,
    Path(raw): Path<String>,
    input: Input,
) -> ApiResult<Json<PolicyOut>> {
    let uuid = path_uuid(&raw)?;
    // The object is looked up before the body is validated, as DRF's update does.
    store::policies::visible_by_uuid(state.db.reader(), &uuid, Visibility::All)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    let changes = parse_fields(&state, input).await?;
    let now = state.clock.now();
    let id = service::update(&state.db, &state.actions, &uuid, changes, now)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok(Json(load_by_id(&state, &links, id, &user).await?))
}

#[utoipa::path(
    delete, path = "/api/marketplace-customer-component-usage-policies/{uuid}/",
    operation_id = "marketplace_customer_component_usage_policies_destroy",
    tag = "marketplace-customer-component-usage-policies",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 204, description = "No response body"))
)]
async fn destroy(State(state): State<AppState>, Staff(_): Staff, Path(raw): Path<String>) -> ApiResult<StatusCode> {
    let uuid = path_uuid(&raw)?;
    if service::delete(&state.db, &state.actions, &uuid, state.clock.now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(NOT_FOUND))
    }
}

/// The request body as documented; handlers read it field by field with DRF's messages.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PolicyRequest {
    /// The customer's URL.
    scope: String,
    #[schema(min_length = 1, max_length = 255)]
    actions: String,
    #[schema(value_type = Option<Object>)]
    options: Option<Value>,
    component_limits_set: Vec<LimitRequest>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PatchedPolicyRequest {
    /// The customer's URL.
    scope: Option<String>,
    #[schema(min_length = 1, max_length = 255)]
    actions: Option<String>,
    #[schema(value_type = Option<Object>)]
    options: Option<Value>,
    component_limits_set: Option<Vec<LimitRequest>>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LimitRequest {
    #[schema(minimum = -2147483648, maximum = 2147483647)]
    limit: i64,
    #[schema(minimum = 1, maximum = 4)]
    period: Option<i64>,
    #[schema(format = Uuid)]
    component: String,
}

/// Upstream's "phase A": every field checked, every error reported together.
async fn parse_fields(state: &AppState, mut input: Input) -> ApiResult<PolicyChanges> {
    let mut changes = PolicyChanges::default();

    if let Some(scope) = input.present("scope", Need::Required) {
        match links::resolve(&scope, "customers") {
            Ok(uuid) => match store::customers::id_by_uuid(state.db.reader(), &uuid).await? {
                Some((id, _)) => changes.customer_id = Some(id),
                None => input.errors.add("scope", links::HyperlinkError::DoesNotExist.message()),
            },
            Err(e) => input.errors.add("scope", e.message()),
        }
    }

    if let Some(value) = input.present("actions", Need::Required) {
        match value {
            // DRF's CharField takes a number as its text.
            Value::String(_) | Value::Number(_) => {
                let text = value.as_str().map_or_else(|| value.to_string(), str::to_string);
                match ActionSet::parse(&text) {
                    Ok(set) => changes.actions = Some(set),
                    Err(e) => input.errors.add("actions", e.to_string()),
                }
            }
            _ => input.errors.add("actions", "Not a valid string."),
        }
    }

    if let Some(value) = input.present("options", Need::Optional) {
        match PolicyOptions::parse(&value) {
            Ok(options) => changes.options = Some(options),
            Err(e) => input.errors.add("options", e.to_string()),
        }
    }

    if let Some(value) = input.present("component_limits_set", Need::Required) {
        match parse_limits(&value) {
            Ok(limits) => changes.limits = Some(limits),
            Err(errors) => input.errors.set("component_limits_set", errors),
        }
    }

    input.finish()?;
    Ok(changes)
}

/// A list of limit items, or DRF's nested errors: per-item objects aligned with the input.
fn parse_limits(value: &Value) -> Result<Vec<LimitDraft>, Value> {
    let Value::Array(items) = value else {
        return Err(json!({"non_field_errors": [format!(
            "Expected a list of items but got type \"{}\".", python_type(value)
        )]}));
    };
    let mut drafts = Vec::with_capacity(items.len());
    let mut errors = Vec::with_capacity(items.len());
    for item in items {
        match parse_limit(item) {
            Ok(d) => {
                drafts.push(d);
                errors.push(json!({}));
            }
            Err(e) => errors.push(e),
        }
    }
    if drafts.len() == items.len() {
        Ok(drafts)
    } else {
        Err(Value::Array(errors))
    }
}

fn parse_limit(item: &Value) -> Result<LimitDraft, Value> {
    let Value::Object(map) = item else {
        return Err(json!({"non_field_errors": [format!(
            "Invalid data. Expected a dictionary, but got {}.", python_type(item)
        )]}));
    };
    let mut errors = serde_json::Map::new();
    let mut fail = |field: &str, msg: String| {
        errors.insert(field.to_string(), json!([msg]));
    };
    let limit = match map.get("limit") {
        None => {
            fail("limit", REQUIRED.into());
            None
        }
        Some(Value::Null) => {
            fail("limit", NOT_NULL.into());
            None
        }
        Some(v) => check_integer(v, i32::MIN.into(), i32::MAX.into())
            .map_err(|m| fail("limit", m))
            .ok(),
    };
    let period = match map.get("period") {
        None => Some(Period::DEFAULT),
        Some(Value::Null) => {
            fail("period", NOT_NULL.into());
            None
        }
        Some(v) => parse_period(v).map_err(|m| fail("period", m)).ok(),
    };
    let component = match map.get("component") {
        None => {
            fail("component", REQUIRED.into());
            None
        }
        Some(Value::Null) => {
            fail("component", NOT_NULL.into());
            None
        }
        Some(v) => check_uuid(v).map_err(|m| fail("component", m)).ok(),
    };
    match (limit, period, component) {
        (Some(limit), Some(period), Some(component)) => Ok(LimitDraft {
            component,
            limit,
            period,
        }),
        _ => Err(Value::Object(errors)),
    }
}

/// DRF's ChoiceField looks the input's Python text up among the choices' text ("1".."4"), so
/// "+3", "03" and 3.0 are not choices, and `true` is reported as "True".
fn parse_period(value: &Value) -> Result<Period, String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    };
    text.parse::<i64>()
        .ok()
        .filter(|code| code.to_string() == text)
        .and_then(Period::from_code)
        .ok_or_else(|| format!("\"{text}\" is not a valid choice."))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        retrieve,
        actions,
        create,
        update,
        partial_update,
        destroy,
        super::policy_status::status
    ),
    components(schemas(
        PolicyOut,
        LimitOut,
        PolicyRequest,
        PatchedPolicyRequest,
        LimitRequest,
        super::policy_status::PolicyStatus,
        super::policy_status::LimitStatus
    ))
)]
pub struct Doc;
