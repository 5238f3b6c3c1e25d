//! `/api/marketplace-categories/`: readable by every authenticated user, written by staff only
//! (checked before the lookup and the body, as upstream's view-level permissions).

use super::auth::{CurrentUser, Staff};
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult};
use super::input::{Input, Text};
use super::links::Links;
use super::pagination::Paginated;
use super::AppState;
use crate::domain::page::PageRequest;
use crate::domain::Uuid32;
use crate::store::{self, categories::CategoryRow};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use utoipa::ToSchema;

const COLLECTION: &str = "marketplace-categories";
const NOT_FOUND: &str = "No Category matches the given query.";
/// Upstream cascades a category's deletion to its offerings; meterguard refuses instead, as
/// that would silently drop components that usage policies limit.
const IN_USE: &str = "Category has offerings and cannot be deleted.";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("/api/{COLLECTION}/"), get(list).post(create))
        .route(
            &format!("/api/{COLLECTION}/{{uuid}}/"),
            get(retrieve).put(save).patch(save).delete(destroy),
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

fn render(links: &Links, row: CategoryRow) -> CategoryOut {
    CategoryOut {
        url: links.detail_hex(COLLECTION, &row.uuid),
        uuid: row.uuid,
        title: row.title,
        description: row.description,
        icon: row.icon,
        offering_count: row.offering_count,
        available_offerings_count: row.available_offerings_count,
        sections: vec![],
        columns: vec![],
        components: vec![],
    }
}

async fn find(state: &AppState, raw: &str) -> ApiResult<CategoryRow> {
    let uuid: Uuid32 = raw.parse().map_err(|_| ApiError::NotFound(NOT_FOUND))?;
    store::categories::by_uuid(state.db.reader(), &uuid)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))
}

#[utoipa::path(
    get, path = "/api/marketplace-categories/",
    operation_id = "marketplace_categories_list",
    tag = "marketplace-categories",
    params(
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
    ),
    responses((status = 200, body = Vec<CategoryOut>, headers(("x-result-count" = i64))))
)]
async fn list(
    State(state): State<AppState>,
    CurrentUser(_): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<CategoryOut>> {
    let request = PageRequest::from_query(&q)?;
    let pool = state.db.reader();
    let page = request.resolve(store::categories::count(pool).await?)?;
    let rows = store::categories::list(pool, page.limit(), page.offset()).await?;
    let items = rows.into_iter().map(|r| render(&links, r)).collect();
    Ok(Paginated {
        items,
        page,
        links,
        uri,
    })
}

#[utoipa::path(
    get, path = "/api/marketplace-categories/{uuid}/",
    operation_id = "marketplace_categories_retrieve",
    tag = "marketplace-categories",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = CategoryOut))
)]
async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(_): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<CategoryOut>> {
    Ok(Json(render(&links, find(&state, &raw).await?)))
}

/// `title` and `description`; `None` keeps the current value (PATCH).
fn fields(input: &mut Input) -> (Option<String>, Option<String>) {
    (
        input.text("title", Text::REQUIRED),
        input.text("description", Text::OPTIONAL.max(usize::MAX)),
    )
}

#[utoipa::path(
    post, path = "/api/marketplace-categories/",
    operation_id = "marketplace_categories_create",
    tag = "marketplace-categories",
    request_body = CategoryRequest,
    responses((status = 201, body = CategoryOut))
)]
async fn create(
    State(state): State<AppState>,
    Staff(_): Staff,
    links: Links,
    JsonBody(mut input): JsonBody,
) -> ApiResult<(StatusCode, Json<CategoryOut>)> {
    let (title, description) = fields(&mut input);
    input.finish()?;
    let uuid = Uuid32::new_v4();
    let now = state.clock.now_micros();
    let mut tx = state.db.begin().await?;
    let (title, description) = (title.unwrap_or_default(), description.unwrap_or_default());
    store::categories::insert(&mut tx, &uuid, &title, &description, now).await?;
    tx.commit().await?;
    let row = find(&state, &uuid.to_string()).await?;
    Ok((StatusCode::CREATED, Json(render(&links, row))))
}

async fn save(
    State(state): State<AppState>,
    Staff(_): Staff,
    links: Links,
    Path(raw): Path<String>,
    JsonBody(mut input): JsonBody,
) -> ApiResult<Json<CategoryOut>> {
    let current = find(&state, &raw).await?;
    let (title, description) = fields(&mut input);
    input.finish()?;
    let title = title.unwrap_or(current.title);
    let description = description.unwrap_or(current.description);
    let mut tx = state.db.begin().await?;
    store::categories::update(&mut tx, current.id, &title, &description).await?;
    tx.commit().await?;
    Ok(Json(render(&links, find(&state, &raw).await?)))
}

async fn destroy(State(state): State<AppState>, Staff(_): Staff, Path(raw): Path<String>) -> ApiResult<StatusCode> {
    let current = find(&state, &raw).await?;
    if current.offering_count > 0 {
        return Err(ApiError::non_field(IN_USE));
    }
    let mut tx = state.db.begin().await?;
    match store::categories::delete(&mut tx, current.id).await {
        // An offering created meanwhile still holds the category.
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => return Err(ApiError::non_field(IN_USE)),
        other => other?,
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The request body as documented; `icon` uploads are not supported (it stays null).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CategoryRequest {
    #[schema(min_length = 1, max_length = 255)]
    title: String,
    description: Option<String>,
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(list, retrieve, create), components(schemas(CategoryOut, CategoryRequest)))]
pub struct Doc;
