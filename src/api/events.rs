//! `/api/events/`: the audit trail of transitions, actions and deliveries.

use super::auth::CurrentUser;
use super::errors::{ApiError, ApiResult};
use super::links::{self, Links};
use super::pagination::Paginated;
use super::query::{choices_param, object, uuid_param};
use super::AppState;
use crate::authz::Visibility;
use crate::domain::page::PageRequest;
use crate::domain::time;
use crate::store::{self, events::EventFilter};
use axum::extract::{Query, RawQuery, State};
use axum::http::Uri;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/events/", get(list))
}

async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Paginated<Value>> {
    let mut filter = EventFilter {
        event_types: choices_param(raw.as_deref(), "event_type", |_| true)?,
        customer_uuids: uuid_param(&q, "customer_uuid")?.into_iter().collect(),
        policy_uuid: uuid_param(&q, "policy_uuid")?,
    };
    if let Some(scope) = q.get("scope").filter(|s| !s.is_empty()) {
        match links::resolve(&json!(scope), "customers") {
            Ok(uuid) => filter.customer_uuids.push(uuid.to_string()),
            Err(_) => return Err(ApiError::field("scope", "Invalid hyperlink - Incorrect URL match.")),
        }
    }
    let request = PageRequest::from_query(&q)?;
    let vis = Visibility::of(&user, state.clock.now_micros());
    let page = request.resolve(store::events::count(state.db.reader(), vis, &filter).await?)?;
    let rows = store::events::list(state.db.reader(), vis, &filter, page.limit(), page.offset()).await?;
    let items = rows
        .into_iter()
        .map(|e| {
            json!({
                "uuid": e.uuid,
                "created": time::render(e.created),
                "event_type": e.event_type,
                "message": e.message,
                "context": object(&e.context),
            })
        })
        .collect();
    Ok(Paginated {
        items,
        page,
        links,
        uri,
    })
}
