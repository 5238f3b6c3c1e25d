//! `/api/marketplace-customer-component-usage-policies/` (docs/api.md §4).

use super::auth::{CurrentUser, Staff};
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult, CommonErrors, ForbiddenErrors, InputErrors, ObjectErrors};
use super::input::python_type;
use super::input::{check_integer, check_uuid, Input, Need, NOT_NULL, REQUIRED};
use super::links::{self, Links};
use super::pagination::Paginated;
use super::query::path_uuid;
use super::query::uuid_param;
use super::AppState;
use crate::domain::ladder::{ResetBelow, WarningThresholds};
use crate::domain::options::PolicyOptions;
use crate::domain::page::PageRequest;
use crate::domain::policy::{PolicyFilter, PolicyLimit, PolicyView};
use crate::domain::{time, Action, ActionSet, Period, Uuid32};
use crate::service::policies::{self as service, InvalidBody, LimitDraft, NewPolicy, PolicyBody, PolicyChanges};
use crate::service::{policy_creates, policy_updates};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use utoipa::ToSchema;

pub(super) const COLLECTION: &str = "marketplace-customer-component-usage-policies";

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

/// A policy as upstream serialises it, keys in upstream order (docs/api.md §4.3).
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
    /// Percentages of each limit at which the policy warns, ascending; `[]` for none
    /// (docs/ladder.md §1). This and the next two are in every policy, after upstream's fields,
    /// which keep their order: a client that knows only upstream's fields reads those as before.
    warning_thresholds: Vec<u8>,
    /// A fired policy resets once every row is at or under this percentage of its limit.
    #[schema(minimum = 1, maximum = 100)]
    reset_below_percent: u8,
    /// The highest threshold reached; `null` for none.
    warning_level: Option<u8>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LimitOut {
    r#type: String,
    limit: i64,
    period: i64,
    period_name: String,
    component: String,
}

impl PolicyOut {
    fn render(links: &Links, view: PolicyView) -> Self {
        let PolicyView {
            policy,
            affected_resources,
        } = view;
        // Empty strings once the creator is deleted, as upstream renders a missing user.
        let (created_by_full_name, created_by_username) = match &policy.created_by {
            Some(author) => (author.full_name(), author.username.clone()),
            None => (String::new(), String::new()),
        };
        Self {
            uuid: policy.uuid.to_string(),
            url: links.detail(COLLECTION, &policy.uuid),
            scope: links.detail("customers", &policy.customer.uuid),
            scope_name: policy.customer.name,
            scope_uuid: policy.customer.uuid.to_string(),
            actions: policy.actions.to_string(),
            created: time::render(policy.created),
            created_by_full_name,
            created_by_username,
            has_fired: policy.has_fired,
            fired_datetime: policy.fired_at.map(time::render),
            options: Value::Object(policy.options),
            affected_resources_count: affected_resources,
            component_limits_set: policy.limits.into_iter().map(LimitOut::render).collect(),
            warning_thresholds: policy.ladder.thresholds.percents().to_vec(),
            reset_below_percent: policy.ladder.reset_below.percent(),
            warning_level: policy.ladder.warning_level,
        }
    }
}

impl LimitOut {
    fn render(limit: PolicyLimit) -> Self {
        Self {
            r#type: limit.component_type,
            limit: limit.limit,
            period: limit.period.code(),
            period_name: limit.period.name().to_string(),
            component: limit.component_uuid.to_string(),
        }
    }
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
    responses(
        (status = 200, body = Vec<PolicyOut>, headers(("x-result-count" = i64))),
        InputErrors,
        ObjectErrors,
        CommonErrors
    )
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
    let listed = service::list(&state.db, &user, &filter, request, state.clock.now_micros()).await?;
    Ok(Paginated {
        items: listed.items.into_iter().map(|p| PolicyOut::render(&links, p)).collect(),
        page: listed.page,
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
                Ok(uuid) => filter.customer_uuids.push(uuid),
                Err(_) => filter.matches_nothing = true,
            },
        }
    }
    for key in ["customer_uuid", "scope_uuid"] {
        // `uuid_param` answers the uuid's hex form, which parses.
        filter
            .customer_uuids
            .extend(uuid_param(q, key)?.and_then(|hex| hex.parse::<Uuid32>().ok()));
    }
    Ok(filter)
}

#[utoipa::path(
    get, path = "/api/marketplace-customer-component-usage-policies/{uuid}/",
    operation_id = "marketplace_customer_component_usage_policies_retrieve",
    tag = "marketplace-customer-component-usage-policies",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = PolicyOut), ObjectErrors, CommonErrors)
)]
async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<PolicyOut>> {
    let uuid = path_uuid(&raw, service::NOT_FOUND)?;
    let policy = service::retrieve(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(Json(PolicyOut::render(&links, policy)))
}

#[utoipa::path(
    get, path = "/api/marketplace-customer-component-usage-policies/actions/",
    operation_id = "marketplace_customer_component_usage_policies_actions_retrieve",
    tag = "marketplace-customer-component-usage-policies",
    responses(
        (status = 200, body = Vec<String>, description = "The available action names, sorted."),
        CommonErrors
    )
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
    let request = PolicyRequest::parse(input).map(NewPolicy::from);
    let policy = policy_creates::create(&state.db, &state.creates, &user, request, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(PolicyOut::render(&links, policy))))
}

#[utoipa::path(
    put, path = "/api/marketplace-customer-component-usage-policies/{uuid}/",
    operation_id = "marketplace_customer_component_usage_policies_update",
    tag = "marketplace-customer-component-usage-policies",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = PolicyRequest,
    responses((status = 200, body = PolicyOut), InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors)
)]
async fn update(
    State(state): State<AppState>,
    Staff(user): Staff,
    links: Links,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<PolicyOut>> {
    let uuid = path_uuid(&raw, service::NOT_FOUND)?;
    let request = PolicyRequest::parse(input).map(PolicyChanges::from);
    let policy = policy_updates::update(&state.db, &state.updates, &user, &uuid, request, state.clock.now()).await?;
    Ok(Json(PolicyOut::render(&links, policy)))
}

#[utoipa::path(
    patch, path = "/api/marketplace-customer-component-usage-policies/{uuid}/",
    operation_id = "marketplace_customer_component_usage_policies_partial_update",
    tag = "marketplace-customer-component-usage-policies",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = PatchedPolicyRequest,
    responses((status = 200, body = PolicyOut), InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors)
)]
async fn partial_update(
    State(state): State<AppState>,
    Staff(user): Staff,
    links: Links,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<PolicyOut>> {
    let uuid = path_uuid(&raw, service::NOT_FOUND)?;
    let request = PatchedPolicyRequest::parse(input).map(PolicyChanges::from);
    let policy = policy_updates::update(&state.db, &state.updates, &user, &uuid, request, state.clock.now()).await?;
    Ok(Json(PolicyOut::render(&links, policy)))
}

#[utoipa::path(
    delete, path = "/api/marketplace-customer-component-usage-policies/{uuid}/",
    operation_id = "marketplace_customer_component_usage_policies_destroy",
    tag = "marketplace-customer-component-usage-policies",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 204, description = "No response body"), ForbiddenErrors, ObjectErrors, CommonErrors)
)]
async fn destroy(State(state): State<AppState>, Staff(user): Staff, Path(raw): Path<String>) -> ApiResult<StatusCode> {
    let uuid = path_uuid(&raw, service::NOT_FOUND)?;
    service::delete(&state.db, &state.actions, &user, &uuid, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The body of a create or a full update (docs/api.md §4.4): every field but `options` is
/// required.
#[derive(Debug, ToSchema)]
pub struct PolicyRequest {
    /// The customer's URL.
    #[schema(value_type = String, format = "uri")]
    scope: Uuid32,
    #[schema(value_type = String, min_length = 1, max_length = 255)]
    actions: ActionSet,
    /// Extra data per action, keyed by action name.
    #[schema(value_type = Object, required = false)]
    options: Option<PolicyOptions>,
    component_limits_set: Vec<LimitRequest>,
    /// Distinct integers in 1..99, at most 5; kept as they are when not sent (docs/ladder.md §1).
    #[schema(value_type = Vec<u8>, required = false, max_items = 5)]
    warning_thresholds: Option<WarningThresholds>,
    /// 1..100, 100 when never sent; kept as it is when not sent.
    #[schema(value_type = u8, required = false, minimum = 1, maximum = 100)]
    reset_below_percent: Option<ResetBelow>,
}

/// The body of a partial update: any of the fields, each checked as in `PolicyRequest`.
#[derive(Debug, Default, ToSchema)]
pub struct PatchedPolicyRequest {
    /// The customer's URL.
    #[schema(value_type = String, format = "uri", required = false)]
    scope: Option<Uuid32>,
    #[schema(value_type = String, min_length = 1, max_length = 255, required = false)]
    actions: Option<ActionSet>,
    /// Extra data per action, keyed by action name.
    #[schema(value_type = Object, required = false)]
    options: Option<PolicyOptions>,
    #[schema(value_type = Vec<LimitRequest>, required = false)]
    component_limits_set: Option<Vec<LimitRequest>>,
    /// Distinct integers in 1..99, at most 5 (docs/ladder.md §1).
    #[schema(value_type = Vec<u8>, required = false, max_items = 5)]
    warning_thresholds: Option<WarningThresholds>,
    #[schema(value_type = u8, required = false, minimum = 1, maximum = 100)]
    reset_below_percent: Option<ResetBelow>,
}

/// One item of `component_limits_set`.
#[derive(Debug, Clone, Copy, ToSchema)]
pub struct LimitRequest {
    #[schema(minimum = -2147483648, maximum = 2147483647)]
    limit: i64,
    /// 1 Total, 2 one month, 3 three months, 4 twelve months; 2 when left out.
    #[schema(value_type = i64, minimum = 1, maximum = 4, required = false)]
    period: Period,
    #[schema(value_type = String, format = Uuid)]
    component: Uuid32,
}

impl PolicyRequest {
    pub(super) fn parse(input: Input) -> PolicyBody<Self> {
        let mut input = input.partial(false);
        let fields = PatchedPolicyRequest::read(&mut input);
        match fields {
            PatchedPolicyRequest {
                scope: Some(scope),
                actions: Some(actions),
                options,
                component_limits_set: Some(component_limits_set),
                warning_thresholds,
                reset_below_percent,
            } if input.errors.is_empty() => Ok(Self {
                scope,
                actions,
                options,
                component_limits_set,
                warning_thresholds,
                reset_below_percent,
            }),
            PatchedPolicyRequest { scope, .. } => Err(invalid(scope, input)),
        }
    }
}

impl PatchedPolicyRequest {
    pub(super) fn parse(input: Input) -> PolicyBody<Self> {
        let mut input = input.partial(true);
        let fields = Self::read(&mut input);
        if input.errors.is_empty() {
            Ok(fields)
        } else {
            Err(invalid(fields.scope, input))
        }
    }

    /// Upstream's "phase A": every field checked, every error collected in `input`. Whether the
    /// scope's customer exists is the service's to say.
    fn read(input: &mut Input) -> Self {
        let mut fields = Self::default();

        if let Some(scope) = input.present("scope", Need::Required) {
            match links::resolve(&scope, "customers") {
                Ok(uuid) => fields.scope = Some(uuid),
                Err(e) => input.errors.add("scope", e.message()),
            }
        }

        if let Some(value) = input.present("actions", Need::Required) {
            match value {
                // DRF's CharField takes a number as its text.
                Value::String(_) | Value::Number(_) => {
                    let text = value.as_str().map_or_else(|| value.to_string(), str::to_string);
                    match ActionSet::parse(&text) {
                        Ok(set) => fields.actions = Some(set),
                        Err(e) => input.errors.add("actions", e.to_string()),
                    }
                }
                _ => input.errors.add("actions", "Not a valid string."),
            }
        }

        if let Some(value) = input.present("options", Need::Optional) {
            match PolicyOptions::parse(&value) {
                Ok(options) => fields.options = Some(options),
                Err(e) => input.errors.add("options", e.to_string()),
            }
        }

        if let Some(value) = input.present("component_limits_set", Need::Required) {
            match parse_limits(&value) {
                Ok(limits) => fields.component_limits_set = Some(limits),
                Err(errors) => input.errors.set("component_limits_set", errors),
            }
        }

        if let Some(value) = input.present("warning_thresholds", Need::Optional) {
            match parse_thresholds(&value) {
                Ok(thresholds) => fields.warning_thresholds = Some(thresholds),
                Err(e) => input.errors.add("warning_thresholds", e),
            }
        }

        if let Some(value) = input.present("reset_below_percent", Need::Optional) {
            // In range once checked, so `new` keeps it.
            match check_integer(&value, 1, 100) {
                Ok(percent) => fields.reset_below_percent = ResetBelow::new(percent),
                Err(e) => input.errors.add("reset_below_percent", e),
            }
        }
        fields
    }
}

/// A list of integers in 1..99, distinct, at most five, as DRF's ListField of IntegerFields
/// words its errors (the first one found).
fn parse_thresholds(value: &Value) -> Result<WarningThresholds, String> {
    let Value::Array(items) = value else {
        return Err(format!(
            "Expected a list of items but got type \"{}\".",
            python_type(value)
        ));
    };
    let values = items
        .iter()
        .map(|item| check_integer(item, 1, 99))
        .collect::<Result<Vec<i64>, String>>()?;
    WarningThresholds::new(&values)
}

/// A refused body: the errors collected in `input`, and the scope if it parsed.
fn invalid(scope: Option<Uuid32>, input: Input) -> InvalidBody {
    let errors = match input.finish() {
        Err(ApiError::Validation(Value::Object(errors))) => errors,
        _ => Map::new(),
    };
    InvalidBody { scope, errors }
}

impl From<PolicyRequest> for NewPolicy {
    fn from(request: PolicyRequest) -> Self {
        Self {
            customer: request.scope,
            actions: request.actions,
            options: request.options,
            limits: request.component_limits_set.into_iter().map(LimitDraft::from).collect(),
            thresholds: request.warning_thresholds,
            reset_below: request.reset_below_percent,
        }
    }
}

/// A full update: every field replaced but `options`, which is left as it is when not sent.
impl From<PolicyRequest> for PolicyChanges {
    fn from(request: PolicyRequest) -> Self {
        Self {
            customer: Some(request.scope),
            actions: Some(request.actions),
            options: request.options,
            limits: Some(request.component_limits_set.into_iter().map(LimitDraft::from).collect()),
            thresholds: request.warning_thresholds,
            reset_below: request.reset_below_percent,
        }
    }
}

impl From<PatchedPolicyRequest> for PolicyChanges {
    fn from(request: PatchedPolicyRequest) -> Self {
        Self {
            customer: request.scope,
            actions: request.actions,
            options: request.options,
            limits: request
                .component_limits_set
                .map(|limits| limits.into_iter().map(LimitDraft::from).collect()),
            thresholds: request.warning_thresholds,
            reset_below: request.reset_below_percent,
        }
    }
}

impl From<LimitRequest> for LimitDraft {
    fn from(request: LimitRequest) -> Self {
        Self {
            component: request.component,
            limit: request.limit,
            period: request.period,
        }
    }
}

/// A list of limit items, or DRF's nested errors: per-item objects aligned with the input.
fn parse_limits(value: &Value) -> Result<Vec<LimitRequest>, Value> {
    let Value::Array(items) = value else {
        return Err(json!({"non_field_errors": [format!(
            "Expected a list of items but got type \"{}\".", python_type(value)
        )]}));
    };
    let mut limits = Vec::with_capacity(items.len());
    let mut errors = Vec::with_capacity(items.len());
    for item in items {
        match parse_limit(item) {
            Ok(limit) => {
                limits.push(limit);
                errors.push(json!({}));
            }
            Err(e) => errors.push(e),
        }
    }
    if limits.len() == items.len() {
        Ok(limits)
    } else {
        Err(Value::Array(errors))
    }
}

fn parse_limit(item: &Value) -> Result<LimitRequest, Value> {
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
        (Some(limit), Some(period), Some(component)) => Ok(LimitRequest {
            limit,
            period,
            component,
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
        super::policy_status::LimitStatus,
        super::policy_status::PendingActionStatus
    ))
)]
pub struct Doc;
