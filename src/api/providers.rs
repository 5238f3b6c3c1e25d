//! `/api/marketplace-service-providers/`: registering a customer as a service provider, which it
//! must be before it can offer anything.

use super::auth::CurrentUser;
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult};
use super::input::{Need, Text};
use super::links::{self, HyperlinkError, Links};
use super::pagination::Paginated;
use super::query::uuid_param;
use super::AppState;
use crate::authz::Visibility;
use crate::domain::page::PageRequest;
use crate::domain::{time, Uuid32};
use crate::store::{self, providers::ProviderRow};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

const COLLECTION: &str = "marketplace-service-providers";
const NOT_FOUND: &str = "No ServiceProvider matches the given query.";
/// DRF's UniqueValidator message for the one-to-one `customer` field.
const ALREADY_REGISTERED: &str = "Service provider with this customer already exists.";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("/api/{COLLECTION}/"), get(list).post(create))
        .route(&format!("/api/{COLLECTION}/{{uuid}}/"), get(retrieve))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderOut {
    url: String,
    uuid: String,
    created: String,
    description: String,
    enable_notifications: bool,
    customer: String,
    customer_name: String,
    customer_uuid: String,
    customer_abbreviation: String,
    customer_slug: String,
    customer_native_name: String,
    customer_country: String,
    offering_count: i64,
}

fn render(links: &Links, row: ProviderRow) -> ProviderOut {
    ProviderOut {
        url: links.detail_hex(COLLECTION, &row.uuid),
        customer: links.detail_hex("customers", &row.customer_uuid),
        uuid: row.uuid,
        created: time::render(row.created),
        description: row.description,
        enable_notifications: row.enable_notifications != 0,
        customer_name: row.customer_name,
        customer_uuid: row.customer_uuid,
        customer_abbreviation: row.customer_abbreviation,
        customer_slug: row.customer_slug,
        customer_native_name: row.customer_native_name,
        customer_country: row.customer_country,
        offering_count: row.offering_count,
    }
}

#[utoipa::path(
    get, path = "/api/marketplace-service-providers/",
    operation_id = "marketplace_service_providers_list",
    tag = "marketplace-service-providers",
    params(
        ("customer_uuid" = Option<String>, Query, format = Uuid),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
    ),
    responses((status = 200, body = Vec<ProviderOut>, headers(("x-result-count" = i64))))
)]
async fn list(
    State(state): State<AppState>,
    CurrentUser(_): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<ProviderOut>> {
    let customer = uuid_param(&q, "customer_uuid")?;
    let request = PageRequest::from_query(&q)?;
    let pool = state.db.reader();
    let total = store::providers::count(pool, customer.as_deref()).await?;
    let page = request.resolve(total)?;
    let rows = store::providers::list(pool, customer.as_deref(), page.limit(), page.offset()).await?;
    let items = rows.into_iter().map(|r| render(&links, r)).collect();
    Ok(Paginated {
        items,
        page,
        links,
        uri,
    })
}

#[utoipa::path(
    get, path = "/api/marketplace-service-providers/{uuid}/",
    operation_id = "marketplace_service_providers_retrieve",
    tag = "marketplace-service-providers",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = ProviderOut))
)]
async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(_): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<ProviderOut>> {
    let uuid: Uuid32 = raw.parse().map_err(|_| ApiError::NotFound(NOT_FOUND))?;
    let row = store::providers::by_uuid(state.db.reader(), &uuid)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok(Json(render(&links, row)))
}

/// Field errors first (including "already registered"), then the permission check (staff or an
/// owner of the customer), as upstream's serializer does.
#[utoipa::path(
    post, path = "/api/marketplace-service-providers/",
    operation_id = "marketplace_service_providers_create",
    tag = "marketplace-service-providers",
    request_body = ServiceProviderRequest,
    responses((status = 201, body = ProviderOut))
)]
async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    JsonBody(mut input): JsonBody,
) -> ApiResult<(StatusCode, Json<ProviderOut>)> {
    let pool = state.db.reader();
    let mut customer_id = None;
    if let Some(value) = input.present("customer", Need::Required) {
        // A customer the caller cannot see looks missing (not "already registered", nor 403).
        let vis = Visibility::of(&user, state.clock.now_micros());
        let found = match links::resolve(&value, "customers") {
            Ok(uuid) => store::customers::visible_id(pool, &uuid, vis)
                .await?
                .ok_or_else(|| HyperlinkError::DoesNotExist.message()),
            Err(e) => Err(e.message()),
        };
        match found {
            Ok(id) if store::providers::is_registered(pool, id).await? => {
                input.errors.add("customer", ALREADY_REGISTERED);
            }
            Ok(id) => customer_id = Some(id),
            Err(msg) => input.errors.add("customer", msg),
        }
    }
    let description = input.text("description", Text::OPTIONAL.max(4096));
    let notify = input.boolean("enable_notifications").unwrap_or(true);
    input.finish()?;
    let customer_id =
        customer_id.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("customer passed validation unset")))?;

    let now = state.clock.now_micros();
    if !user.is_staff
        && !crate::store::roles::load(pool, &user, customer_id, None, now)
            .await?
            .is_owner()
    {
        return Err(ApiError::PermissionDenied);
    }
    let uuid = Uuid32::new_v4();
    let mut tx = state.db.begin().await?;
    let description = description.unwrap_or_default();
    match store::providers::insert(&mut tx, &uuid, customer_id, &description, notify, now).await {
        Err(e) if store::is_unique_violation(&e) => return Err(ApiError::field("customer", ALREADY_REGISTERED)),
        other => other?,
    };
    tx.commit().await?;
    let row = store::providers::by_uuid(pool, &uuid)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok((StatusCode::CREATED, Json(render(&links, row))))
}

/// The request body as documented; the handler reads it field by field with DRF's messages.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ServiceProviderRequest {
    /// The customer's URL.
    customer: String,
    #[schema(max_length = 4096)]
    description: Option<String>,
    enable_notifications: Option<bool>,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, retrieve, create),
    components(schemas(ProviderOut, ServiceProviderRequest))
)]
pub struct Doc;
