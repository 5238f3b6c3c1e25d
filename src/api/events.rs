//! `/api/events/`: the audit trail of transitions, actions and deliveries.

use super::auth::CurrentUser;
use super::errors::{ApiError, ApiResult};
use super::links::{self, Links};
use super::pagination::{PageRequest, Paginated};
use super::query::{object, uuid_param};
use super::AppState;
use crate::authz::Visibility;
use crate::domain::time;
use crate::store::{self, events::EventFilter};
use axum::extract::{RawQuery, State};
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
    RawQuery(raw): RawQuery,
) -> ApiResult<Paginated<Value>> {
    // `event_type` may repeat, so the query is read as pairs.
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let q: HashMap<String, String> = pairs.iter().cloned().collect();
    let mut filter = EventFilter {
        event_types: pairs
            .iter()
            .filter(|(k, v)| k == "event_type" && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect(),
        customer_uuid: uuid_param(&q, "customer_uuid")?,
        policy_uuid: uuid_param(&q, "policy_uuid")?,
    };
    if let Some(scope) = q.get("scope").filter(|s| !s.is_empty()) {
        match links::resolve(&json!(scope), "customers") {
            Ok(uuid) => filter.customer_uuid = Some(uuid.to_string()),
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
