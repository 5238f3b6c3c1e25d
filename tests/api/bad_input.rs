//! Malformed requests to every write endpoint get a 4xx DRF-shaped body and change nothing.

use crate::api_test;
use crate::fixtures::marketplace;
use crate::helpers::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

const COLLECTIONS: &[&str] = &[
    "/api/users/",
    "/api/customers/",
    "/api/projects/",
    "/api/marketplace-service-providers/",
    "/api/marketplace-categories/",
    "/api/marketplace-provider-offerings/",
    "/api/marketplace-customer-component-usage-policies/",
    "/api/marketplace-orders/",
    "/api/marketplace-resources/",
    "/api/marketplace-component-usages/",
    "/api/events/",
];

/// Everything staff can read, for before/after comparison.
async fn snapshot(app: &TestApp) -> Vec<Value> {
    let mut all = Vec::new();
    for c in COLLECTIONS {
        all.push(app.get(&format!("{c}?page_size=300"), app.staff()).await.expect(200));
    }
    all
}

/// A DRF error body: `{"detail": str}`, `{"field": [...]}` or a bare list of strings.
fn is_drf_shaped(body: &Value) -> bool {
    match body {
        Value::Object(map) => {
            !map.is_empty()
                && map.iter().all(|(k, v)| {
                    if k == "detail" {
                        v.is_string()
                    } else {
                        v.is_array() || v.is_object()
                    }
                })
        }
        Value::Array(items) => !items.is_empty() && items.iter().all(Value::is_string),
        _ => false,
    }
}

api_test!(
    async fn malformed_requests_are_refused_and_change_nothing(app) {
        let m = marketplace(&app).await;
        let policy = app
            .post(
                "/api/marketplace-customer-component-usage-policies/",
                app.staff(),
                json!({"scope": m.customer_url(), "actions": "request_pausing", "component_limits_set": []}),
            )
            .await
            .expect(201);
        let offering = m.offering["uuid"].as_str().unwrap();
        let resource = m.resource(&app, "vm").await;
        let orders = app.get("/api/marketplace-orders/", app.staff()).await.expect(200);
        let order = orders[0]["uuid"].as_str().unwrap().to_string();
        let writes: Vec<(Method, String, Value)> = vec![
            (Method::POST, "/api/users/".into(), json!({"username": ["x"], "email": 5})),
            (Method::PATCH, format!("/api/users/{}/", m.owner.0), json!({"email": "not-an-email", "is_active": "perhaps"})),
            (Method::POST, format!("/api/users/{}/change_password/", m.owner.0), json!({"new_password": {}})),
            (Method::POST, "/api-auth/password/".into(), json!({"username": [], "password": 1.5})),
            (Method::POST, "/api/customers/".into(), json!({"name": {}, "blocked": "x"})),
            (Method::PATCH, format!("/api/customers/{}/", m.customer_uuid()), json!({"name": "", "country": "nowhere"})),
            (Method::POST, format!("/api/customers/{}/add_user/", m.customer_uuid()), json!({"user": "x", "role": 3})),
            (Method::POST, "/api/projects/".into(), json!({"customer": 3, "name": null})),
            (Method::PATCH, format!("/api/projects/{}/", m.project["uuid"].as_str().unwrap()), json!({"end_date": "tomorrow"})),
            (Method::POST, format!("/api/projects/{}/add_user/", m.project["uuid"].as_str().unwrap()), json!({"user": null})),
            (Method::POST, "/api/marketplace-service-providers/".into(), json!({"customer": "http://x/api/users/1/"})),
            (Method::POST, "/api/marketplace-categories/".into(), json!({"title": ""})),
            (Method::POST, "/api/marketplace-provider-offerings/".into(), json!({"name": 1, "components": "x"})),
            (
                Method::POST,
                format!("/api/marketplace-provider-offerings/{offering}/create_offering_component/"),
                json!({"type": "", "billing_type": "sometimes"}),
            ),
            (
                Method::POST,
                "/api/marketplace-customer-component-usage-policies/".into(),
                json!({"scope": [], "actions": 7, "options": 3, "component_limits_set": [{"limit": true}]}),
            ),
            (
                Method::PATCH,
                format!("/api/marketplace-customer-component-usage-policies/{}/", policy["uuid"].as_str().unwrap()),
                json!({"component_limits_set": [{"component": m.component("base"), "limit": 1}]}),
            ),
            (Method::POST, "/api/marketplace-orders/".into(), json!({"offering": 5, "project": [], "limits": {"x": "y"}})),
            (Method::POST, format!("/api/marketplace-orders/{order}/set_state_erred/"), json!({"error_message": []})),
            (Method::PATCH, format!("/api/marketplace-resources/{resource}/"), json!({"name": "", "end_date": "soon"})),
            (Method::POST, format!("/api/marketplace-resources/{resource}/update_limits/"), json!({"limits": [1]})),
            (Method::POST, format!("/api/marketplace-resources/{resource}/terminate/"), json!({"attributes": 5})),
            (
                Method::POST,
                "/api/marketplace-component-usages/set_usage/".into(),
                json!({"resource": 5, "usages": [{"type": "cpu_hours", "amount": "-1.234"}], "date": "later"}),
            ),
        ];
        let before = snapshot(&app).await;
        let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(70 * 1024));
        for (method, path, wrong_types) in &writes {
            let cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
                ("malformed json", "application/json", b"{\"name\": ".to_vec(), 400),
                ("not an object", "application/json", b"[1, 2]".to_vec(), 400),
                ("wrong content type", "text/plain", b"name=x".to_vec(), 415),
                ("huge body", "application/json", huge.clone().into_bytes(), 413),
                ("wrong types and unknown fields", "application/json", {
                    let mut v = wrong_types.clone();
                    v["unknown_field"] = json!("ignored");
                    serde_json::to_vec(&v).unwrap()
                }, 400),
            ];
            for (what, content_type, bytes, status) in cases {
                let reply = app.call_raw(method.clone(), path, app.staff(), content_type, bytes).await;
                let expected = if path == "/api-auth/password/" && what == "wrong types and unknown fields" { 401 } else { status };
                assert_eq!(reply.status.as_u16(), expected, "{what}: {method} {path} -> {}", reply.body);
                assert!(is_drf_shaped(&reply.body), "{what}: {method} {path} -> {}", reply.body);
            }
        }
        for (method, path) in [
            (Method::PATCH, "/api/users/not-a-uuid/"),
            (Method::PATCH, "/api/customers/123/"),
            (Method::PATCH, "/api/projects/zz/"),
            (Method::PATCH, "/api/marketplace-customer-component-usage-policies/0123/"),
            (Method::POST, "/api/marketplace-provider-offerings/x/activate/"),
            (Method::POST, "/api/marketplace-orders/nope/cancel/"),
            (Method::POST, "/api/marketplace-resources/nope/terminate/"),
            (Method::DELETE, "/api/marketplace-component-usages/nope/"),
        ] {
            let reply = app.call(method.clone(), path, Some(app.staff()), Some(json!({"name": "x"}))).await;
            assert_eq!(reply.status.as_u16(), 404, "{method} {path}");
            assert!(is_drf_shaped(&reply.body));
        }
        assert_eq!(snapshot(&app).await, before);
    }
);

api_test!(
    async fn json_errors_say_what_went_wrong(app) {
        let r = app.call_raw(Method::POST, "/api/customers/", app.staff(), "application/json", b"{\"name\": }".to_vec()).await;
        let detail = r.expect(400)["detail"].as_str().unwrap().to_string();
        assert!(detail.starts_with("JSON parse error - "), "{detail}");
        let r = app.call_raw(Method::POST, "/api/customers/", app.staff(), "text/plain", b"x".to_vec()).await;
        assert_eq!(r.expect(415), json!({"detail": "Unsupported media type \"text/plain\" in request."}));
        let r = app.call_raw(Method::POST, "/api/customers/", app.staff(), "application/json", b"\"just a string\"".to_vec()).await;
        assert_eq!(r.expect(400), json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}));
    }
);

api_test!(
    async fn a_nul_character_in_a_text_filter_is_refused(app) {
        let refused = json!(["Null characters are not allowed."]);
        for (path, key) in [
            ("/api/customers/?name=a%00b", "name"),
            ("/api/customers/?name_exact=%00", "name_exact"),
            ("/api/projects/?name=%00", "name"),
            ("/api/events/?event_type=policy%00fired", "event_type"),
            ("/api/marketplace-component-usages/?type=cpu%00", "type"),
        ] {
            let body = app.get(path, app.staff()).await.expect(400);
            assert_eq!(body, json!({ key: refused }), "{path}");
        }
        // The same filters without one still filter.
        app.get("/api/customers/?name=ab", app.staff()).await.expect(200);
        app.get("/api/events/?event_type=policy_fired", app.staff()).await.expect(200);
    }
);
