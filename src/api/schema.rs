//! `/api/schema/`: the OpenAPI document of what meterguard serves, generated from the handlers.

use super::AppState;
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "meterguard", description = "Waldur-compatible customer component usage policies"),
    components(schemas(super::errors::ErrorDetail)),
    modifiers(&TokenAuth),
    security(("waldurTokenAuth" = []))
)]
struct ApiDoc;

struct TokenAuth;

impl Modify for TokenAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "waldurTokenAuth",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "Token-based authentication: `Authorization: Token <key>`",
            ))),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/schema/", get(|| async { Json(document()) }))
}

/// Each resource documents its own paths; they are merged here.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(super::policies::Doc::openapi());
    doc.merge(super::dry_run::Doc::openapi());
    doc.merge(super::events::Doc::openapi());
    doc.merge(super::providers::Doc::openapi());
    doc.merge(super::categories::Doc::openapi());
    doc.merge(super::offerings::Doc::openapi());
    doc.merge(super::public_offerings::Doc::openapi());
    doc.merge(super::orders::Doc::openapi());
    doc.merge(super::resources::Doc::openapi());
    doc.merge(super::auth_password::Doc::openapi());
    doc.merge(super::users::Doc::openapi());
    doc.merge(super::customers::Doc::openapi());
    doc.merge(super::projects::Doc::openapi());
    doc.merge(super::usages::Doc::openapi());
    doc.merge(super::usage_reports::Doc::openapi());
    doc.merge(super::health::Doc::openapi());
    doc.merge(super::site_agent::Doc::openapi());
    doc.merge(super::provider_resources::Doc::openapi());
    doc.merge(super::user_usages::Doc::openapi());
    doc.merge(super::offering_users::Doc::openapi());
    doc.merge(super::version::Doc::openapi());
    doc.merge(super::grants::Doc::openapi());
    add_counts(&mut doc);
    doc
}

/// A list answers HEAD too, as upstream's `*_count` operations: the list's own answer without its
/// body, so its `X-Result-Count` says how many there are. Each is documented from its list's
/// operation: the same parameters, the same statuses, no bodies (docs/api.md §1.7).
fn add_counts(doc: &mut utoipa::openapi::OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let Some(list) = &item.get else { continue };
        let Some(count_id) = list.operation_id.as_deref().and_then(|id| id.strip_suffix("_list")) else {
            continue;
        };
        let mut count = list.clone();
        count.operation_id = Some(format!("{count_id}_count"));
        count.summary = None;
        count.description = Some("How many the list holds, in `X-Result-Count`; no body.".into());
        for response in count.responses.responses.values_mut() {
            if let RefOr::T(response) = response {
                response.content.clear();
                response.links.clear();
                if response.description.is_empty() {
                    response.description = "No response body".into();
                }
            }
        }
        item.head = Some(count);
    }
}
