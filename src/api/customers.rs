//! `/api/customers/` and its role actions.

use super::auth::{CurrentUser, Staff};
use super::body::JsonBody;
use super::errors::{ApiResult, CommonErrors, ConflictErrors, ForbiddenErrors, InputErrors, ObjectErrors};
use super::input::{Input, Need, Text};
use super::links::Links;
use super::pagination::Paginated;
use super::query::path_uuid;
use super::query::verbatim_param;
use super::request::{optional_fields, parsed};
use super::roles::{self, GrantOut, RoleRevoked, UserRoleExpirationTime, UserRoleRequest};
use super::AppState;
use crate::domain::customer::{Customer, CustomerFields, CustomerFilter, CustomerPatch, CustomerText};
use crate::domain::page::PageRequest;
use crate::domain::roles::ScopeType;
use crate::domain::{slug, time};
use crate::service::customers::{self as service, NOT_FOUND};
use crate::service::parsed::Parsed;
use crate::service::roles::RoleAction;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

const COLLECTION: &str = "customers";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/customers/", get(list).post(create))
        .route(
            "/api/customers/{uuid}/",
            get(retrieve).put(update).patch(partial_update).delete(destroy),
        )
        .route("/api/customers/{uuid}/add_user/", post(add_user))
        .route("/api/customers/{uuid}/update_user/", post(update_user))
        .route("/api/customers/{uuid}/delete_user/", post(delete_user))
        .route("/api/customers/{uuid}/list_users/", get(list_users))
}

/// A customer as upstream serialises the keys meterguard models, in upstream's order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Customer)]
pub struct CustomerOut {
    url: String,
    uuid: String,
    #[schema(format = DateTime)]
    created: String,
    display_name: String,
    name: String,
    #[schema(pattern = "^[-a-zA-Z0-9_]+$", max_length = 50)]
    slug: String,
    native_name: String,
    abbreviation: String,
    description: String,
    contact_details: String,
    email: String,
    phone_number: String,
    registration_code: String,
    agreement_number: String,
    backend_id: String,
    domain: String,
    homepage: String,
    address: String,
    postal: String,
    country: String,
    vat_code: String,
    access_subnets: String,
    blocked: bool,
    archived: bool,
    projects_count: i64,
    users_count: i64,
    is_service_provider: bool,
    service_provider_uuid: Option<String>,
}

impl CustomerOut {
    fn render(links: &Links, c: Customer) -> Self {
        let text = |field: CustomerText| c.fields.text(field).to_string();
        Self {
            url: links.detail(COLLECTION, &c.uuid),
            uuid: c.uuid.to_string(),
            created: time::render(c.created),
            display_name: text(CustomerText::Name),
            name: text(CustomerText::Name),
            slug: text(CustomerText::Slug),
            native_name: text(CustomerText::NativeName),
            abbreviation: text(CustomerText::Abbreviation),
            description: text(CustomerText::Description),
            contact_details: text(CustomerText::ContactDetails),
            email: text(CustomerText::Email),
            phone_number: text(CustomerText::PhoneNumber),
            registration_code: text(CustomerText::RegistrationCode),
            agreement_number: text(CustomerText::AgreementNumber),
            backend_id: text(CustomerText::BackendId),
            domain: text(CustomerText::Domain),
            homepage: text(CustomerText::Homepage),
            address: text(CustomerText::Address),
            postal: text(CustomerText::Postal),
            country: text(CustomerText::Country),
            vat_code: text(CustomerText::VatCode),
            access_subnets: text(CustomerText::AccessSubnets),
            blocked: c.fields.blocked,
            archived: c.fields.archived,
            projects_count: c.projects_count,
            users_count: c.users_count,
            is_service_provider: c.service_provider_uuid.is_some(),
            service_provider_uuid: c.service_provider_uuid.map(|u| u.to_string()),
        }
    }
}

/// The body of a customer create or full update: the fields it sends, read with DRF's messages.
/// Its schema is made from the same field rules the reading follows.
#[derive(Debug)]
pub struct CustomerRequest(CustomerPatch);

impl CustomerRequest {
    /// Reads the fields sent; their errors stay in `input`.
    fn read(input: &mut Input) -> Self {
        let mut patch = CustomerPatch::default();
        for field in CustomerText::ALL {
            // The email is read last, as it always was, so its errors come after the others'.
            if field == CustomerText::Email {
                continue;
            }
            let rule = match field {
                CustomerText::Name => Text::REQUIRED,
                _ => Text::OPTIONAL,
            };
            if let Some(value) = input.text(field.key(), rule.max(max_len(field))) {
                if let Some(message) = refusal(field, &value) {
                    input.errors.add(field.key(), message);
                }
                patch.set(field, value);
            }
        }
        if let Some(email) = input.email("email", Need::Optional) {
            patch.set(CustomerText::Email, email);
        }
        patch.blocked = input.boolean("blocked");
        patch.archived = input.boolean("archived");
        Self(patch)
    }

    /// A new customer's fields: those sent, the rest empty.
    fn into_fields(self) -> CustomerFields {
        let mut fields = CustomerFields::default();
        self.0.apply(&mut fields);
        fields
    }
}

/// The longest text each field takes.
fn max_len(field: CustomerText) -> usize {
    match field {
        CustomerText::Name => 150,
        CustomerText::Slug => slug::MAX_LEN,
        CustomerText::Email => 320,
        _ => 500,
    }
}

/// What a field's text must look like beyond its length, as the schema's pattern.
fn pattern(field: CustomerText) -> Option<&'static str> {
    match field {
        CustomerText::Slug => Some("^[-a-zA-Z0-9_]+$"),
        CustomerText::Country => Some("^([A-Z]{2})?$"),
        _ => None,
    }
}

/// The message for text of the wrong shape.
fn refusal(field: CustomerText, value: &str) -> Option<String> {
    match field {
        CustomerText::Slug if !slug::is_valid(value) => Some(slug::INVALID.into()),
        CustomerText::Country if !is_country_code(value) => Some(format!("\"{value}\" is not a valid choice.")),
        _ => None,
    }
}

/// ISO 3166 alpha-2 in shape (or upstream's "EU"), or empty.
fn is_country_code(s: &str) -> bool {
    s.is_empty() || (s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()))
}

impl PartialSchema for CustomerRequest {
    fn schema() -> RefOr<Schema> {
        let mut object = ObjectBuilder::new();
        for field in CustomerText::ALL {
            let min = (field == CustomerText::Name).then_some(1);
            let text = ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(min)
                .max_length(Some(max_len(field)))
                .pattern(pattern(field));
            object = object.property(field.key(), text);
        }
        for flag in ["blocked", "archived"] {
            object = object.property(flag, ObjectBuilder::new().schema_type(Type::Boolean));
        }
        object.required(CustomerText::Name.key()).into()
    }
}

impl ToSchema for CustomerRequest {}

/// The body of a PATCH: the fields of `CustomerRequest`, none required.
#[derive(Debug)]
pub struct PatchedCustomerRequest(CustomerRequest);

impl PartialSchema for PatchedCustomerRequest {
    fn schema() -> RefOr<Schema> {
        optional_fields(CustomerRequest::schema())
    }
}

impl ToSchema for PatchedCustomerRequest {}

impl PatchedCustomerRequest {
    /// Read as the full body; the fields left out are not required, as `Input` knows for a PATCH.
    fn read(input: &mut Input) -> Self {
        Self(CustomerRequest::read(input))
    }
}

#[utoipa::path(
    get, path = "/api/customers/", operation_id = "customers_list", tag = "customers",
    params(
        ("name" = Option<String>, Query, description = "Names containing this, in any case."),
        ("name_exact" = Option<String>, Query),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
    ),
    responses(
        (status = 200, body = Vec<CustomerOut>, headers(("x-result-count" = i64), ("link" = String))),
        InputErrors, ObjectErrors, CommonErrors
    )
)]
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<CustomerOut>> {
    let page = PageRequest::from_query(&q)?;
    let filter = CustomerFilter {
        name_exact: verbatim_param(&q, "name_exact")?,
        name: verbatim_param(&q, "name")?,
    };
    let listed = service::list(&state.db, &user, &filter, page, state.clock.now_micros()).await?;
    Ok(Paginated {
        items: listed
            .items
            .into_iter()
            .map(|c| CustomerOut::render(&links, c))
            .collect(),
        page: listed.page,
        links,
        uri,
    })
}

#[utoipa::path(
    get, path = "/api/customers/{uuid}/", operation_id = "customers_retrieve", tag = "customers",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = CustomerOut), ObjectErrors, CommonErrors)
)]
async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<CustomerOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    let customer = service::retrieve(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(Json(CustomerOut::render(&links, customer)))
}

/// Staff only, refused before the body is read (docs/api.md §1.3).
#[utoipa::path(
    post, path = "/api/customers/", operation_id = "customers_create", tag = "customers",
    request_body = CustomerRequest,
    responses((status = 201, body = CustomerOut), InputErrors, ForbiddenErrors, CommonErrors)
)]
async fn create(
    State(state): State<AppState>,
    Staff(user): Staff,
    links: Links,
    JsonBody(mut input): JsonBody,
) -> ApiResult<(StatusCode, Json<CustomerOut>)> {
    let request = CustomerRequest::read(&mut input);
    input.finish()?;
    let customer = service::create(&state.db, &user, request.into_fields(), state.clock.now_micros()).await?;
    Ok((StatusCode::CREATED, Json(CustomerOut::render(&links, customer))))
}

#[utoipa::path(
    put, path = "/api/customers/{uuid}/", operation_id = "customers_update", tag = "customers",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = CustomerRequest,
    responses(
        (status = 200, body = CustomerOut),
        InputErrors, ForbiddenErrors, ObjectErrors, ConflictErrors, CommonErrors
    )
)]
async fn update(
    state: State<AppState>,
    staff: Staff,
    links: Links,
    path: Path<String>,
    JsonBody(mut input): JsonBody,
) -> ApiResult<Json<CustomerOut>> {
    let CustomerRequest(patch) = CustomerRequest::read(&mut input);
    save(state, staff, links, path, parsed(patch, input)).await
}

#[utoipa::path(
    patch, path = "/api/customers/{uuid}/", operation_id = "customers_partial_update", tag = "customers",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = PatchedCustomerRequest,
    responses(
        (status = 200, body = CustomerOut),
        InputErrors, ForbiddenErrors, ObjectErrors, ConflictErrors, CommonErrors
    )
)]
async fn partial_update(
    state: State<AppState>,
    staff: Staff,
    links: Links,
    path: Path<String>,
    JsonBody(mut input): JsonBody,
) -> ApiResult<Json<CustomerOut>> {
    let PatchedCustomerRequest(CustomerRequest(patch)) = PatchedCustomerRequest::read(&mut input);
    save(state, staff, links, path, parsed(patch, input)).await
}

/// PUT and PATCH: the body's errors are reported after the customer is found.
async fn save(
    State(state): State<AppState>,
    Staff(user): Staff,
    links: Links,
    Path(raw): Path<String>,
    patch: Parsed<CustomerPatch>,
) -> ApiResult<Json<CustomerOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    let customer = service::update(&state.db, &user, &uuid, patch, state.clock.now_micros()).await?;
    Ok(Json(CustomerOut::render(&links, customer)))
}

#[utoipa::path(
    delete, path = "/api/customers/{uuid}/", operation_id = "customers_destroy", tag = "customers",
    params(("uuid" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "No response body"),
        ForbiddenErrors, ObjectErrors, ConflictErrors, CommonErrors
    )
)]
async fn destroy(State(state): State<AppState>, Staff(user): Staff, Path(raw): Path<String>) -> ApiResult<StatusCode> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    service::delete(&state.db, &state.actions, &user, &uuid, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/api/customers/{uuid}/add_user/", operation_id = "customers_add_user", tag = "customers",
    params(("uuid" = String, Path, format = Uuid)),
    request_body(content = UserRoleRequest, description = "Upstream's UserRoleCreateRequest."),
    responses(
        (status = 201, body = UserRoleExpirationTime),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn add_user(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<(StatusCode, Json<UserRoleExpirationTime>)> {
    let out = roles::change(&state, &user, ScopeType::Customer, &raw, RoleAction::Grant, input).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(
    post, path = "/api/customers/{uuid}/update_user/", operation_id = "customers_update_user", tag = "customers",
    params(("uuid" = String, Path, format = Uuid)),
    request_body(content = UserRoleRequest, description = "Upstream's UserRoleUpdateRequest."),
    responses(
        (status = 200, body = UserRoleExpirationTime),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn update_user(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<UserRoleExpirationTime>> {
    let out = roles::change(&state, &user, ScopeType::Customer, &raw, RoleAction::Update, input).await?;
    Ok(Json(out))
}

#[utoipa::path(
    post, path = "/api/customers/{uuid}/delete_user/", operation_id = "customers_delete_user", tag = "customers",
    params(("uuid" = String, Path, format = Uuid)),
    request_body(content = UserRoleRequest, description = "Upstream's UserRoleDeleteRequest."),
    responses(
        (status = 200, body = RoleRevoked, description = "Role revoked successfully."),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn delete_user(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<RoleRevoked>> {
    roles::change(&state, &user, ScopeType::Customer, &raw, RoleAction::Revoke, input).await?;
    Ok(Json(roles::revoked()))
}

#[utoipa::path(
    get, path = "/api/customers/{uuid}/list_users/", operation_id = "customers_list_users_list", tag = "customers",
    params(
        ("uuid" = String, Path, format = Uuid),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
    ),
    responses(
        (status = 200, body = Vec<GrantOut>, headers(("x-result-count" = i64), ("link" = String))),
        ObjectErrors, CommonErrors
    )
)]
async fn list_users(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<GrantOut>> {
    roles::list(&state, &user, ScopeType::Customer, &raw, links, uri, &q).await
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        retrieve,
        create,
        update,
        partial_update,
        destroy,
        add_user,
        update_user,
        delete_user,
        list_users
    ),
    components(schemas(CustomerOut, CustomerRequest, PatchedCustomerRequest))
)]
pub struct Doc;
