//! `/api/events/`: the audit trail of transitions, actions and deliveries (docs/api.md §9,
//! docs/actions.md §6).

use super::auth::CurrentUser;
use super::errors::{ApiError, ApiResult, CommonErrors, InputErrors, ObjectErrors};
use super::links::{self, Links};
use super::pagination::Paginated;
use super::query::{choices_param, uuid_param};
use super::AppState;
use crate::domain::event::{Event, EventFilter};
use crate::domain::page::PageRequest;
use crate::domain::{time, Uuid32};
use crate::service::events as service;
use axum::extract::{Query, RawQuery, State};
use axum::http::Uri;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/events/", get(list))
}

/// An event, keys in upstream's order (docs/actions.md §6.1).
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    uuid: String,
    created: String,
    event_type: String,
    message: String,
    #[schema(value_type = Object)]
    context: Value,
}

impl EventOut {
    fn render(event: Event) -> Self {
        Self {
            uuid: event.uuid.to_string(),
            created: time::render(event.created),
            event_type: event.event_type,
            message: event.message,
            context: Value::Object(event.context),
        }
    }
}

#[utoipa::path(
    get, path = "/api/events/",
    operation_id = "events_list",
    tag = "events",
    params(
        ("customer_uuid" = Option<String>, Query, format = Uuid),
        ("event_type" = Option<Vec<String>>, Query, style = Form, explode, description = "Any of these types."),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
        ("policy_uuid" = Option<String>, Query, format = Uuid),
        ("scope" = Option<String>, Query, description = "A customer's URL."),
    ),
    responses(
        (status = 200, body = Vec<EventOut>, headers(("x-result-count" = i64))),
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
    RawQuery(raw): RawQuery,
) -> ApiResult<Paginated<EventOut>> {
    let filter = filter_from(&q, raw.as_deref())?;
    let request = PageRequest::from_query(&q)?;
    let listed = service::list(&state.db, &user, &filter, request, state.clock.now_micros()).await?;
    Ok(Paginated {
        items: listed.items.into_iter().map(EventOut::render).collect(),
        page: listed.page,
        links,
        uri,
    })
}

/// `event_type` may repeat; `customer_uuid` and `policy_uuid` take a uuid and `scope` a
/// customer's URL (anything else is a 400).
fn filter_from(q: &HashMap<String, String>, raw: Option<&str>) -> ApiResult<EventFilter> {
    // `uuid_param` answers the uuid's hex form, which parses.
    let uuid = |key| Ok::<_, ApiError>(uuid_param(q, key)?.and_then(|hex| hex.parse::<Uuid32>().ok()));
    let mut filter = EventFilter {
        event_types: choices_param(raw, "event_type", |_| true)?,
        customer_uuids: uuid("customer_uuid")?.into_iter().collect(),
        policy_uuid: uuid("policy_uuid")?,
    };
    if let Some(scope) = q.get("scope").filter(|s| !s.is_empty()) {
        match links::resolve(&json!(scope), "customers") {
            Ok(uuid) => filter.customer_uuids.push(uuid),
            Err(_) => return Err(ApiError::field("scope", "Invalid hyperlink - Incorrect URL match.")),
        }
    }
    Ok(filter)
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(list), components(schemas(EventOut)))]
pub struct Doc;
