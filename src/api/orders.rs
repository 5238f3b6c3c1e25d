//! `/api/marketplace-orders/`: placing orders and moving them through their states.

use super::auth::CurrentUser;
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult};
use super::input::{check_text, Need, Text};
use super::links::{self, Links};
use super::pagination::Paginated;
use super::query::{choices_param, object, uuid_param};
use super::AppState;
use crate::authz::{Principal, Visibility};
use crate::domain::marketplace::RESOURCE_NAME_MAX;
use crate::domain::marketplace::{OrderState, OrderStep, OrderType};
use crate::domain::page::PageRequest;
use crate::domain::{time, Uuid32};
use crate::service::orders::{self as service, CreateOrder};
use crate::store::{
    self,
    offerings::Catalog,
    orders::{OrderFilter, OrderRow},
};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

const COLLECTION: &str = "marketplace-orders";
const NOT_FOUND: &str = "No Order matches the given query.";

pub fn router() -> Router<AppState> {
    let step = |s: OrderStep| {
        post(
            move |state: State<AppState>, user: CurrentUser, path: Path<String>, body: JsonBody| {
                take_step(state, user, path, body, s)
            },
        )
    };
    Router::new()
        .route(&format!("/api/{COLLECTION}/"), get(list).post(create))
        .route(&format!("/api/{COLLECTION}/{{uuid}}/"), get(retrieve))
        .route(
            &format!("/api/{COLLECTION}/{{uuid}}/approve_by_consumer/"),
            step(OrderStep::ApproveByConsumer),
        )
        .route(
            &format!("/api/{COLLECTION}/{{uuid}}/reject_by_consumer/"),
            step(OrderStep::RejectByConsumer),
        )
        .route(
            &format!("/api/{COLLECTION}/{{uuid}}/approve_by_provider/"),
            step(OrderStep::ApproveByProvider),
        )
        .route(
            &format!("/api/{COLLECTION}/{{uuid}}/reject_by_provider/"),
            step(OrderStep::RejectByProvider),
        )
        .route(&format!("/api/{COLLECTION}/{{uuid}}/cancel/"), step(OrderStep::Cancel))
        .route(
            &format!("/api/{COLLECTION}/{{uuid}}/set_state_done/"),
            step(OrderStep::SetDone),
        )
        .route(
            &format!("/api/{COLLECTION}/{{uuid}}/set_state_erred/"),
            step(OrderStep::SetErred),
        )
}

fn render(links: &Links, o: OrderRow) -> Value {
    let full_name = format!(
        "{} {}",
        o.created_by_first_name.clone().unwrap_or_default(),
        o.created_by_last_name.clone().unwrap_or_default()
    );
    let plan = o.plan_uuid.as_ref().map(|p| {
        format!(
            "{}/api/marketplace-public-offerings/{}/plans/{p}/",
            links.base(),
            o.offering_uuid
        )
    });
    let mut out = Map::new();
    let mut put = |k: &str, v: Value| {
        out.insert(k.to_string(), v);
    };
    put("url", links.detail_hex(COLLECTION, &o.uuid).into());
    put("uuid", o.uuid.clone().into());
    put("type", o.r#type.clone().into());
    put("state", o.state.clone().into());
    put(
        "offering",
        links
            .detail_hex("marketplace-public-offerings", &o.offering_uuid)
            .into(),
    );
    put("offering_uuid", o.offering_uuid.clone().into());
    put("offering_name", o.offering_name.clone().into());
    put("offering_type", o.offering_type.clone().into());
    put("provider_uuid", o.provider_uuid.clone().into());
    put("provider_name", o.provider_name.clone().into());
    put("plan", plan.into());
    put("plan_uuid", o.plan_uuid.clone().into());
    put("plan_name", o.plan_name.clone().into());
    put("project", links.detail_hex("projects", &o.project_uuid).into());
    put("project_uuid", o.project_uuid.clone().into());
    put("project_name", o.project_name.clone().into());
    put("customer_uuid", o.customer_uuid.clone().into());
    put("customer_name", o.customer_name.clone().into());
    put("attributes", object(&o.attributes));
    put("limits", object(&o.limits));
    put("resource_uuid", o.resource_uuid.clone().into());
    put("resource_name", o.resource_name.clone().into());
    put("marketplace_resource_uuid", o.resource_uuid.clone().into());
    put("error_message", o.error_message.clone().into());
    put("created", time::render(o.created).into());
    put("modified", time::render(o.modified).into());
    put(
        "created_by_username",
        o.created_by_username.clone().unwrap_or_default().into(),
    );
    put("created_by_full_name", full_name.trim().into());
    put(
        "consumer_reviewed_by_username",
        o.consumer_reviewed_by_username.clone().into(),
    );
    put("consumer_reviewed_at", o.consumer_reviewed_at.map(time::render).into());
    put(
        "provider_reviewed_by_username",
        o.provider_reviewed_by_username.clone().into(),
    );
    put("provider_reviewed_at", o.provider_reviewed_at.map(time::render).into());
    put("completed_at", o.completed_at.map(time::render).into());
    Value::Object(out)
}

async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Paginated<Value>> {
    let filter = OrderFilter {
        customer_uuid: uuid_param(&q, "customer_uuid")?,
        project_uuid: uuid_param(&q, "project_uuid")?,
        resource_uuid: uuid_param(&q, "resource_uuid")?,
        offering_uuid: uuid_param(&q, "offering_uuid")?,
        provider_uuid: uuid_param(&q, "provider_uuid")?,
        states: choices_param(raw.as_deref(), "state", |s| OrderState::parse(s).is_some())?,
        types: choices_param(raw.as_deref(), "type", |s| OrderType::parse(s).is_some())?,
    };
    let request = PageRequest::from_query(&q)?;
    let vis = Visibility::of(&user, state.clock.now_micros());
    let page = request.resolve(store::orders::count(state.db.reader(), vis, &filter).await?)?;
    let rows = store::orders::list(state.db.reader(), vis, &filter, page.limit(), page.offset()).await?;
    Ok(Paginated {
        items: rows.into_iter().map(|o| render(&links, o)).collect(),
        page,
        links,
        uri,
    })
}

async fn visible(state: &AppState, user: &Principal, raw: &str) -> ApiResult<OrderRow> {
    let uuid: Uuid32 = raw.parse().map_err(|_| ApiError::NotFound(NOT_FOUND))?;
    let vis = Visibility::of(user, state.clock.now_micros());
    store::orders::visible_by_uuid(state.db.reader(), &uuid, vis)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))
}

async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(render(&links, visible(&state, &user, &raw).await?)))
}

async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    JsonBody(mut input): JsonBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let reader = state.db.reader();
    let vis = Visibility::of(&user, state.clock.now_micros());
    let mut offering = None;
    if let Some(value) = input.present("offering", Need::Required) {
        match links::resolve(&value, "marketplace-public-offerings") {
            // A private offering of another customer looks missing.
            Ok(uuid) => match store::offerings::visible_by_uuid(reader, &uuid, Catalog::Consumer(vis)).await? {
                Some(o) if o.state == "Active" => offering = Some(o),
                Some(_) => input.errors.add("offering", "Offering is not available."),
                None => input
                    .errors
                    .add("offering", links::HyperlinkError::DoesNotExist.message()),
            },
            Err(e) => input.errors.add("offering", e.message()),
        }
    }
    let mut plan_uuid = None;
    if let Some(value) = input.present("plan", Need::Optional) {
        match links::resolve_nested(&value, "marketplace-public-offerings", "plans") {
            Ok((offering_uuid, plan)) => plan_uuid = Some((offering_uuid, plan)),
            Err(e) => input.errors.add("plan", e.message()),
        }
    }
    let mut project = None;
    if let Some(value) = input.present("project", Need::Required) {
        match links::resolve(&value, "projects") {
            Ok(uuid) => match store::projects::visible_by_uuid(reader, &uuid, vis).await? {
                Some(p) => project = Some(p),
                None => input
                    .errors
                    .add("project", links::HyperlinkError::DoesNotExist.message()),
            },
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
    let mut plan_id = None;
    if let (Some(o), Some((offering_uuid, plan))) = (&offering, plan_uuid) {
        let plans = store::offerings::plans_of(reader, &[o.id]).await?;
        match plans
            .iter()
            .find(|p| p.uuid == plan.to_string() && offering_uuid.to_string() == o.uuid)
        {
            Some(p) if p.archived == 0 => plan_id = Some(p.id),
            _ => input
                .errors
                .add("plan", "This plan is not available for selected offering."),
        }
    }
    input.finish()?;
    let (Some(offering), Some(project)) = (offering, project) else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "order references passed validation unset"
        )));
    };
    if !crate::service::access::may_manage_consumer(
        &state.db,
        &user,
        project.customer.id,
        project.id,
        state.clock.now_micros(),
    )
    .await?
    {
        return Err(ApiError::PermissionDenied);
    }
    let name = attributes
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    let description = attributes
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let order = CreateOrder {
        customer_id: project.customer.id,
        project_uuid: project.uuid.to_string(),
        project_id: project.id,
        offering_id: offering.id,
        plan_id,
        name,
        description,
        attributes: Value::Object(attributes).to_string(),
        limits: limits.to_json().to_string(),
        created_by: user.id,
    };
    let id = service::create(&state.db, &order, state.clock.now_micros()).await?;
    let row = store::orders::by_id(reader, id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok((StatusCode::CREATED, Json(render(&links, row))))
}

async fn take_step(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(mut input): JsonBody,
    step: OrderStep,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let order = visible(&state, &user, &raw).await?;
    let allowed = if step.by_consumer() {
        let creator = step == OrderStep::Cancel && order.created_by_username.as_deref() == Some(user.username.as_str());
        creator
            || crate::service::access::may_manage_consumer(
                &state.db,
                &user,
                order.customer_id,
                order.project_id,
                state.clock.now_micros(),
            )
            .await?
    } else {
        crate::service::access::may_act_for_provider(
            &state.db,
            &user,
            order.provider_customer_id,
            state.clock.now_micros(),
        )
        .await?
    };
    if !allowed {
        return Err(ApiError::PermissionDenied);
    }
    let error_message = match step {
        OrderStep::SetErred => input.text("error_message", Text::OPTIONAL.max(10_000)),
        _ => None,
    };
    input.finish()?;
    service::step(
        &state.db,
        order.id,
        step,
        user.id,
        error_message.as_deref(),
        state.clock.now_micros(),
    )
    .await?;
    let (status, detail) = match step {
        OrderStep::ApproveByConsumer | OrderStep::ApproveByProvider => (StatusCode::OK, "Order has been approved."),
        OrderStep::RejectByConsumer | OrderStep::RejectByProvider => (StatusCode::OK, "Order has been rejected."),
        OrderStep::Cancel => (StatusCode::ACCEPTED, "Order has been canceled."),
        OrderStep::SetDone | OrderStep::SetErred => (StatusCode::OK, "Order state has been updated."),
    };
    Ok((status, Json(json!({ "detail": detail }))))
}
