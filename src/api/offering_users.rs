//! `/api/marketplace-offering-users/`: a user's account on an offering, with the username the
//! cluster knows the user by; the site agent reads them to map cluster usernames to users
//! (docs/site-agent.md).

use super::auth::CurrentUser;
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult, CommonErrors, ForbiddenErrors, InputErrors, ObjectErrors};
use super::input::{Input, Need, Text};
use super::links::{self, Links};
use super::pagination::Paginated;
use super::query::{bool_param, choices_param, path_uuid, text_param, uuid_param};
use super::AppState;
use crate::domain::offering_user::{OfferingUser, OfferingUserFilter};
use crate::domain::page::PageRequest;
use crate::domain::{time, Uuid32};
use crate::service::offering_users::{self as service, NewOfferingUser, NOT_FOUND};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

pub(super) const COLLECTION: &str = "marketplace-offering-users";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("/api/{COLLECTION}/"), get(list).post(create))
        .route(&format!("/api/{COLLECTION}/{{uuid}}/"), get(retrieve))
}

/// An offering user as upstream serialises it (the fields meterguard keeps).
#[derive(Debug, Serialize, ToSchema)]
pub struct OfferingUserOut {
    url: String,
    uuid: String,
    /// The user's URL.
    user: String,
    /// The offering's URL.
    offering: String,
    /// The user's username on the offering's cluster; null until the provider sets it.
    username: Option<String>,
    offering_uuid: String,
    offering_name: String,
    user_uuid: String,
    user_username: String,
    user_full_name: String,
    user_email: String,
    #[schema(format = DateTime)]
    created: String,
    #[schema(format = DateTime)]
    modified: String,
    customer_uuid: String,
    customer_name: String,
    /// Always false: meterguard restricts no offering user.
    is_restricted: bool,
    /// `OK` once it has a username, `Requested` until then.
    state: &'static str,
}

impl OfferingUserOut {
    fn render(links: &Links, u: OfferingUser) -> Self {
        Self {
            url: links.detail(COLLECTION, &u.uuid),
            uuid: u.uuid.to_string(),
            user: links.detail("users", &u.user_uuid),
            offering: links.detail("marketplace-provider-offerings", &u.offering_uuid),
            username: u.username,
            offering_uuid: u.offering_uuid.to_string(),
            offering_name: u.offering_name,
            user_uuid: u.user_uuid.to_string(),
            user_username: u.user_username,
            user_full_name: u.user_full_name,
            user_email: u.user_email,
            created: time::render(u.created),
            modified: time::render(u.modified),
            customer_uuid: u.customer_uuid.to_string(),
            customer_name: u.customer_name,
            is_restricted: false,
            state: u.state.as_str(),
        }
    }
}

#[utoipa::path(
    get, path = "/api/marketplace-offering-users/",
    operation_id = "marketplace_offering_users_list",
    tag = "marketplace-offering-users",
    params(
        ("is_restricted" = Option<bool>, Query),
        ("offering_uuid" = Option<Vec<String>>, Query, explode, description = "Any of these offerings' uuids."),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
        ("user_uuid" = Option<String>, Query, format = Uuid),
        ("user_username" = Option<String>, Query, description = "The username on the offering."),
    ),
    responses(
        (status = 200, body = Vec<OfferingUserOut>, headers(("x-result-count" = i64), ("link" = String))),
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
) -> ApiResult<Paginated<OfferingUserOut>> {
    let offering_uuids = choices_param(raw.as_deref(), "offering_uuid", |v| v.parse::<Uuid32>().is_ok())?
        .iter()
        .filter_map(|v| v.parse::<Uuid32>().ok().map(|u| u.to_string()))
        .collect();
    let is_restricted = bool_param(&q, "is_restricted")?;
    let filter = OfferingUserFilter {
        offering_uuids,
        user_uuid: uuid_param(&q, "user_uuid")?,
        username: text_param(&q, "user_username")?,
        is_restricted,
    };
    let request = PageRequest::from_query(&q)?;
    let listed = service::list(&state.db, &user, &filter, request, state.clock.now_micros()).await?;
    Ok(Paginated {
        items: listed
            .items
            .into_iter()
            .map(|u| OfferingUserOut::render(&links, u))
            .collect(),
        page: listed.page,
        links,
        uri,
    })
}

#[utoipa::path(
    get, path = "/api/marketplace-offering-users/{uuid}/",
    operation_id = "marketplace_offering_users_retrieve",
    tag = "marketplace-offering-users",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = OfferingUserOut), ObjectErrors, CommonErrors)
)]
async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<OfferingUserOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    let found = service::retrieve(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(Json(OfferingUserOut::render(&links, found)))
}

/// The offering and the user, each by URL or by uuid, and the username on the offering.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct OfferingUserRequest {
    /// The offering's URL (or give `offering_uuid`).
    #[schema(required = false)]
    offering: String,
    #[schema(value_type = String, format = Uuid, required = false)]
    offering_uuid: String,
    /// The user's URL (or give `user_uuid`).
    #[schema(required = false)]
    user: String,
    #[schema(value_type = String, format = Uuid, required = false)]
    user_uuid: String,
    #[schema(nullable, required = false, max_length = 100)]
    username: Option<String>,
}

/// The object a field pair names: `<field>_uuid`, or `<field>` as a URL of one of `collections`.
fn named(input: &mut Input, field: &str, collections: &[&str]) -> Option<Uuid32> {
    let by_uuid = format!("{field}_uuid");
    if input.has(&by_uuid) {
        return input.uuid(&by_uuid, Need::Required);
    }
    let value = input.present(field, Need::Required)?;
    let mut last = None;
    for collection in collections {
        match links::resolve(&value, collection) {
            Ok(uuid) => return Some(uuid),
            Err(e) => last = Some(e),
        }
    }
    if let Some(e) = last {
        input.errors.add(field, e.message());
    }
    None
}

impl OfferingUserRequest {
    fn parse(mut input: Input) -> ApiResult<NewOfferingUser> {
        let offering = named(
            &mut input,
            "offering",
            &["marketplace-provider-offerings", "marketplace-public-offerings"],
        );
        let user = named(&mut input, "user", &["users"]);
        let username = match input.raw("username") {
            None | Some(serde_json::Value::Null) => None,
            Some(_) => input
                .text("username", Text::OPTIONAL.max(100))
                .filter(|u| !u.is_empty()),
        };
        input.finish()?;
        match (offering, user) {
            (Some(offering), Some(user)) => Ok(NewOfferingUser {
                offering,
                user,
                username,
            }),
            _ => Err(ApiError::Internal(anyhow::anyhow!(
                "offering user passed validation unset"
            ))),
        }
    }
}

/// Staff, or an owner or manager of the offering's provider.
#[utoipa::path(
    post, path = "/api/marketplace-offering-users/",
    operation_id = "marketplace_offering_users_create",
    tag = "marketplace-offering-users",
    request_body = OfferingUserRequest,
    responses((status = 201, body = OfferingUserOut), InputErrors, ForbiddenErrors, CommonErrors)
)]
async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    JsonBody(input): JsonBody,
) -> ApiResult<(StatusCode, Json<OfferingUserOut>)> {
    let new = OfferingUserRequest::parse(input)?;
    let created = service::create(&state.db, &user, new, state.clock.now_micros()).await?;
    Ok((StatusCode::CREATED, Json(OfferingUserOut::render(&links, created))))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, retrieve, create),
    components(schemas(OfferingUserOut, OfferingUserRequest))
)]
pub struct Doc;
