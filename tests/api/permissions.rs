//! Who may call what, for the structure and catalog endpoints (the policy resource has its own
//! tests): staff, support, customer owner / manager / support, project member, no role, anonymous.

use crate::api_test;
use crate::fixtures::{marketplace, role_tokens};
use reqwest::Method;
use serde_json::{json, Value};

/// One request and the status each role gets, in the order: support, owner, manager, customer
/// support, project member, no role, anonymous, staff (last, as staff may change things).
struct Row {
    method: Method,
    path: String,
    body: Value,
    expect: [u16; 8],
}

api_test!(
    async fn structure_and_catalog_permissions(app) {
        let m = marketplace(&app).await;
        let c = role_tokens(&app, &m).await;
        let customer = m.customer_uuid().to_string();
        let project = m.project["uuid"].as_str().unwrap().to_string();
        let offering = m.offering["uuid"].as_str().unwrap().to_string();
        let doomed = app.customer("Doomed").await["uuid"].as_str().unwrap().to_string();
        let row = |method: Method, path: String, body: Value, expect: [u16; 8]| Row { method, path, body, expect };
        let rows = [
            row(Method::GET, "/api/customers/".into(), Value::Null, [200, 200, 200, 200, 200, 200, 401, 200]),
            row(Method::GET, format!("/api/customers/{customer}/"), Value::Null, [200, 200, 200, 200, 200, 404, 401, 200]),
            row(Method::POST, "/api/customers/".into(), json!({"name": "New"}), [403, 403, 403, 403, 403, 403, 401, 201]),
            row(Method::PATCH, format!("/api/customers/{customer}/"), json!({"phone_number": "1"}), [403, 403, 403, 403, 403, 403, 401, 200]),
            row(Method::DELETE, format!("/api/customers/{doomed}/"), Value::Null, [403, 403, 403, 403, 403, 403, 401, 204]),
            row(Method::GET, format!("/api/customers/{customer}/list_users/"), Value::Null, [200, 200, 200, 200, 200, 404, 401, 200]),
            row(
                Method::POST,
                "/api/projects/".into(),
                json!({"customer": m.customer_url(), "name": "P"}),
                // Without a role the customer looks missing: 400 "Object does not exist.".
                [403, 201, 403, 403, 403, 400, 401, 201],
            ),
            row(Method::GET, format!("/api/projects/{project}/"), Value::Null, [200, 200, 200, 200, 200, 404, 401, 200]),
            row(Method::PATCH, format!("/api/projects/{project}/"), json!({"description": "d"}), [403, 200, 403, 403, 403, 404, 401, 200]),
            row(Method::GET, "/api/users/".into(), Value::Null, [200, 200, 200, 200, 200, 200, 401, 200]),
            row(Method::POST, "/api/users/".into(), json!({"username": "u", "email": "u@x.org"}), [403, 403, 403, 403, 403, 403, 401, 201]),
            row(Method::POST, "/api/marketplace-categories/".into(), json!({"title": "T"}), [403, 403, 403, 403, 403, 403, 401, 201]),
            row(Method::GET, "/api/marketplace-categories/".into(), Value::Null, [200, 200, 200, 200, 200, 200, 401, 200]),
            row(Method::GET, "/api/marketplace-public-offerings/".into(), Value::Null, [200, 200, 200, 200, 200, 200, 401, 200]),
            row(
                Method::POST,
                format!("/api/marketplace-provider-offerings/{offering}/activate/"),
                json!({}),
                [403, 403, 403, 403, 403, 403, 401, 400],
            ),
            row(Method::GET, "/api/marketplace-orders/".into(), Value::Null, [200, 200, 200, 200, 200, 200, 401, 200]),
            row(Method::POST, "/api/marketplace-orders/".into(), m.order_body("p"), [403, 201, 403, 403, 403, 400, 401, 201]),
            row(Method::GET, "/api/events/".into(), Value::Null, [200, 200, 200, 200, 200, 200, 401, 200]),
        ];
        let tokens = [
            Some(c.support.as_str()),
            Some(c.owner.as_str()),
            Some(c.manager.as_str()),
            Some(c.customer_support.as_str()),
            Some(c.project_member.as_str()),
            Some(c.nobody.as_str()),
            None,
            Some(app.staff()),
        ];
        let names = ["support", "owner", "manager", "customer support", "project member", "no role", "anonymous", "staff"];
        for row in &rows {
            for ((token, name), expected) in tokens.iter().zip(names).zip(row.expect) {
                let body = (!row.body.is_null()).then(|| row.body.clone());
                let reply = app.call(row.method.clone(), &row.path, *token, body).await;
                assert_eq!(reply.status.as_u16(), expected, "{name}: {} {} -> {}", row.method, row.path, reply.body);
            }
        }
    }
);
