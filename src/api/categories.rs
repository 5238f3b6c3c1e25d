//! `/api/marketplace-categories/`: readable by every authenticated user, written by staff only
//! (checked before the lookup and the body, as upstream's view-level permissions; docs/api.md
//! §5.2).

use super::auth::{CurrentUser, Staff};
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult, CommonErrors, ForbiddenErrors, InputErrors, ObjectErrors};
use super::input::{Input, Text};
use super::links::Links;
use super::pagination::Paginated;
use super::query::path_uuid;
use super::request::deferred;
use super::AppState;
use crate::domain::category::{Category, CategoryChanges, CategoryFields};
use crate::domain::page::PageRequest;
use crate::service::categories::{self as service, NOT_FOUND};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use utoipa::ToSchema;

const COLLECTION: &str = "marketplace-categories";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("/api/{COLLECTION}/"), get(list).post(create))
        .route(
            &format!("/api/{COLLECTION}/{{uuid}}/"),
            get(retrieve).put(update).patch(partial_update).delete(destroy),
        )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryOut {
    url: String,
    uuid: String,
    title: String,
    description: String,
    icon: Option<String>,
    offering_count: i64,
    available_offerings_count: i64,
    #[schema(value_type = Vec<Object>)]
    sections: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    columns: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    components: Vec<Value>,
}

impl CategoryOut {
    fn render(links: &Links, category: Category) -> Self {
        Self {
            url: links.detail(COLLECTION, &category.uuid),
            uuid: category.uuid.to_string(),
            title: category.title,
            description: category.description,
            icon: category.icon,
            offering_count: category.offering_count,
            available_offerings_count: category.available_offerings_count,
            sections: vec![],
            columns: vec![],
            components: vec![],
        }
    }
}

/// `title` and `description` as sent; `None` when left out.
fn read_fields(mut input: Input) -> ApiResult<(Option<String>, Option<String>)> {
    let title = input.text("title", Text::REQUIRED);
    let description = input.text("description", Text::OPTIONAL.max(usize::MAX));
    input.finish()?;
    Ok((title, description))
}

/// The POST and PUT body; `icon` uploads are not supported (it stays null).
#[derive(Debug, ToSchema)]
pub struct CategoryRequest {
    #[schema(min_length = 1, max_length = 255)]
    title: String,
    /// Left out: empty on create, unchanged on PUT.
    #[schema(nullable = false)]
    description: Option<String>,
}

impl CategoryRequest {
    fn parse(input: Input) -> ApiResult<Self> {
        let (title, description) = read_fields(input)?;
        let title = title.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("title passed validation unset")))?;
        Ok(Self { title, description })
    }
}

impl From<CategoryRequest> for CategoryFields {
    fn from(r: CategoryRequest) -> Self {
        Self {
            title: r.title,
            description: r.description.unwrap_or_default(),
        }
    }
}

impl From<CategoryRequest> for CategoryChanges {
    fn from(r: CategoryRequest) -> Self {
        Self {
            title: Some(r.title),
            description: r.description,
        }
    }
}

/// The PATCH body: what it leaves out stays as it is.
#[derive(Debug, ToSchema)]
pub struct PatchedCategoryRequest {
    #[schema(min_length = 1, max_length = 255, nullable = false)]
    title: Option<String>,
    #[schema(nullable = false)]
    description: Option<String>,
}

impl PatchedCategoryRequest {
    fn parse(input: Input) -> ApiResult<Self> {
        let (title, description) = read_fields(input.partial(true))?;
        Ok(Self { title, description })
    }
}

impl From<PatchedCategoryRequest> for CategoryChanges {
    fn from(r: PatchedCategoryRequest) -> Self {
        Self {
            title: r.title,
            description: r.description,
        }
    }
}

#[utoipa::path(
    get, path = "/api/marketplace-categories/",
    operation_id = "marketplace_categories_list",
    tag = "marketplace-categories",
    params(
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
    ),
    responses(
        (status = 200, body = Vec<CategoryOut>, headers(("x-result-count" = i64))),
        ObjectErrors, CommonErrors
    )
)]
async fn list(
    State(state): State<AppState>,
    CurrentUser(_): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<CategoryOut>> {
    let listed = service::list(&state.db, PageRequest::from_query(&q)?).await?;
    Ok(Paginated {
        items: listed
            .items
            .into_iter()
            .map(|c| CategoryOut::render(&links, c))
            .collect(),
        page: listed.page,
        links,
        uri,
    })
}

#[utoipa::path(
    get, path = "/api/marketplace-categories/{uuid}/",
    operation_id = "marketplace_categories_retrieve",
    tag = "marketplace-categories",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = CategoryOut), ObjectErrors, CommonErrors)
)]
async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(_): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<CategoryOut>> {
    let category = service::retrieve(&state.db, &path_uuid(&raw, NOT_FOUND)?).await?;
    Ok(Json(CategoryOut::render(&links, category)))
}

#[utoipa::path(
    post, path = "/api/marketplace-categories/",
    operation_id = "marketplace_categories_create",
    tag = "marketplace-categories",
    request_body = CategoryRequest,
    responses((status = 201, body = CategoryOut), InputErrors, ForbiddenErrors, CommonErrors)
)]
async fn create(
    State(state): State<AppState>,
    Staff(_): Staff,
    links: Links,
    JsonBody(input): JsonBody,
) -> ApiResult<(StatusCode, Json<CategoryOut>)> {
    let request = CategoryRequest::parse(input)?;
    let category = service::create(&state.db, request.into(), state.clock.now_micros()).await?;
    Ok((StatusCode::CREATED, Json(CategoryOut::render(&links, category))))
}

/// The category is looked up before the body is validated, as DRF's update does.
#[utoipa::path(
    put, path = "/api/marketplace-categories/{uuid}/",
    operation_id = "marketplace_categories_update",
    tag = "marketplace-categories",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = CategoryRequest,
    responses(
        (status = 200, body = CategoryOut),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn update(
    State(state): State<AppState>,
    Staff(_): Staff,
    links: Links,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<CategoryOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    let changes = deferred(CategoryRequest::parse(input))?.map(Into::into);
    let category = service::update(&state.db, &uuid, changes).await?;
    Ok(Json(CategoryOut::render(&links, category)))
}

#[utoipa::path(
    patch, path = "/api/marketplace-categories/{uuid}/",
    operation_id = "marketplace_categories_partial_update",
    tag = "marketplace-categories",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = PatchedCategoryRequest,
    responses(
        (status = 200, body = CategoryOut),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn partial_update(
    State(state): State<AppState>,
    Staff(_): Staff,
    links: Links,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<CategoryOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    let changes = deferred(PatchedCategoryRequest::parse(input))?.map(Into::into);
    let category = service::update(&state.db, &uuid, changes).await?;
    Ok(Json(CategoryOut::render(&links, category)))
}

/// A category that offerings are in stays: 400 (upstream would delete them with it).
#[utoipa::path(
    delete, path = "/api/marketplace-categories/{uuid}/",
    operation_id = "marketplace_categories_destroy",
    tag = "marketplace-categories",
    params(("uuid" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "No response body"),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn destroy(State(state): State<AppState>, Staff(_): Staff, Path(raw): Path<String>) -> ApiResult<StatusCode> {
    service::delete(&state.db, &path_uuid(&raw, NOT_FOUND)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, retrieve, create, update, partial_update, destroy),
    components(schemas(CategoryOut, CategoryRequest, PatchedCategoryRequest))
)]
pub struct Doc;
