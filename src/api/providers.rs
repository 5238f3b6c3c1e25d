//! `/api/marketplace-service-providers/`: registering a customer as a service provider, which it
//! must be before it can offer anything (docs/api.md §5.1).

use super::auth::CurrentUser;
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult, CommonErrors, ForbiddenErrors, InputErrors, ObjectErrors};
use super::input::{Input, Text};
use super::links::Links;
use super::pagination::Paginated;
use super::query::uuid_param;
use super::request::{deferred, reference};
use super::AppState;
use crate::domain::page::PageRequest;
use crate::domain::service_provider::{ProviderFields, ServiceProvider};
use crate::domain::{time, Uuid32};
use crate::service::checked::Reference;
use crate::service::providers::{self as service, NewProvider, ProviderFilter, NOT_FOUND};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use utoipa::ToSchema;

const COLLECTION: &str = "marketplace-service-providers";

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

impl ProviderOut {
    fn render(links: &Links, p: ServiceProvider) -> Self {
        Self {
            url: links.detail(COLLECTION, &p.uuid),
            uuid: p.uuid.to_string(),
            created: time::render(p.created),
            description: p.description,
            enable_notifications: p.enable_notifications,
            customer: links.detail("customers", &p.customer_uuid),
            customer_name: p.customer_name,
            customer_uuid: p.customer_uuid.to_string(),
            customer_abbreviation: p.customer_abbreviation,
            customer_slug: p.customer_slug,
            customer_native_name: p.customer_native_name,
            customer_country: p.customer_country,
            offering_count: p.offering_count,
        }
    }
}

/// The registration body. The customer it names is checked by the use case, which reports its
/// errors (an unknown customer, one already registered) with the body's.
#[derive(Debug, ToSchema)]
pub struct ServiceProviderRequest {
    /// The customer's URL.
    #[schema(value_type = String, required = true)]
    customer: Option<Reference>,
    #[serde(default)]
    #[schema(max_length = 4096)]
    description: String,
    /// Default true.
    #[serde(default)]
    enable_notifications: bool,
    /// The errors of the fields read here (the customer's are the use case's).
    #[schema(ignore)]
    errors: Option<Value>,
}

impl ServiceProviderRequest {
    fn parse(mut input: Input) -> ApiResult<Self> {
        let customer = reference(&mut input, "customer", "customers");
        let description = input.text("description", Text::OPTIONAL.max(4096)).unwrap_or_default();
        let enable_notifications = input.boolean("enable_notifications").unwrap_or(true);
        Ok(Self {
            customer,
            description,
            enable_notifications,
            errors: deferred(input.finish())?.err(),
        })
    }
}

impl From<ServiceProviderRequest> for NewProvider {
    fn from(r: ServiceProviderRequest) -> Self {
        let fields = ProviderFields {
            description: r.description,
            enable_notifications: r.enable_notifications,
        };
        Self {
            customer: r.customer,
            fields: r.errors.map_or(Ok(fields), Err),
        }
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
    responses(
        (status = 200, body = Vec<ProviderOut>, headers(("x-result-count" = i64))),
        InputErrors, ObjectErrors, CommonErrors
    )
)]
async fn list(
    State(state): State<AppState>,
    CurrentUser(_): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<ProviderOut>> {
    let filter = ProviderFilter {
        customer_uuid: uuid_param(&q, "customer_uuid")?,
    };
    let listed = service::list(&state.db, &filter, PageRequest::from_query(&q)?).await?;
    Ok(Paginated {
        items: listed
            .items
            .into_iter()
            .map(|p| ProviderOut::render(&links, p))
            .collect(),
        page: listed.page,
        links,
        uri,
    })
}

#[utoipa::path(
    get, path = "/api/marketplace-service-providers/{uuid}/",
    operation_id = "marketplace_service_providers_retrieve",
    tag = "marketplace-service-providers",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = ProviderOut), ObjectErrors, CommonErrors)
)]
async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(_): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<ProviderOut>> {
    let uuid: Uuid32 = raw.parse().map_err(|_| ApiError::NotFound(NOT_FOUND))?;
    let provider = service::retrieve(&state.db, &uuid).await?;
    Ok(Json(ProviderOut::render(&links, provider)))
}

/// Field errors first (including "already registered"), then the permission check (staff or an
/// owner of the customer), as upstream's serializer does.
#[utoipa::path(
    post, path = "/api/marketplace-service-providers/",
    operation_id = "marketplace_service_providers_create",
    tag = "marketplace-service-providers",
    request_body = ServiceProviderRequest,
    responses((status = 201, body = ProviderOut), InputErrors, ForbiddenErrors, CommonErrors)
)]
async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    JsonBody(input): JsonBody,
) -> ApiResult<(StatusCode, Json<ProviderOut>)> {
    let request = ServiceProviderRequest::parse(input)?;
    let provider = service::register(&state.db, &user, request.into(), state.clock.now_micros()).await?;
    Ok((StatusCode::CREATED, Json(ProviderOut::render(&links, provider))))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, retrieve, create),
    components(schemas(ProviderOut, ServiceProviderRequest))
)]
pub struct Doc;
