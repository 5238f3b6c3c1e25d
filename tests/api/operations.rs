//! Operations endpoints: health, readiness, metrics and the OpenAPI document.

use crate::api_test;
use reqwest::Method;
use serde_json::json;

api_test!(
    async fn health_and_readiness_answer_without_credentials(app) {
        assert_eq!(app.call(Method::GET, "/health/", None, None).await.expect(200), json!({"status": "ok"}));
        assert_eq!(app.call(Method::GET, "/ready/", None, None).await.expect(200), json!({"status": "ready"}));
        let r = app.call(Method::GET, "/health/", None, None).await;
        assert!(r.header("x-request-id").is_some_and(|id| id.len() == 36));
    }
);

api_test!(
    async fn metrics_count_requests_per_route(app) {
        app.get("/api/customers/", app.staff()).await.expect(200);
        let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(
            text.lines().any(|l| l.starts_with("meterguard_http_requests_total")
                && l.contains("route=\"/api/customers/\"")
                && l.contains("status=\"200\"")),
            "{text}"
        );
        assert!(text.contains("meterguard_http_request_duration_seconds_bucket"), "{text}");
        assert!(text.contains("meterguard_outbox_depth"), "{text}");
    }
);

api_test!(
    async fn the_openapi_document_describes_the_policy_resource_as_upstream(app) {
        let doc = app.call(Method::GET, "/api/schema/", None, None).await.expect(200);
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let base = "/api/marketplace-customer-component-usage-policies/";
        let paths = &doc["paths"];
        for (path, method, operation) in [
            (base.to_string(), "get", "marketplace_customer_component_usage_policies_list"),
            (base.to_string(), "post", "marketplace_customer_component_usage_policies_create"),
            (format!("{base}{{uuid}}/"), "get", "marketplace_customer_component_usage_policies_retrieve"),
            (format!("{base}{{uuid}}/"), "put", "marketplace_customer_component_usage_policies_update"),
            (format!("{base}{{uuid}}/"), "patch", "marketplace_customer_component_usage_policies_partial_update"),
            (format!("{base}{{uuid}}/"), "delete", "marketplace_customer_component_usage_policies_destroy"),
            (format!("{base}actions/"), "get", "marketplace_customer_component_usage_policies_actions_retrieve"),
            (format!("{base}{{uuid}}/status/"), "get", "marketplace_customer_component_usage_policies_status"),
        ] {
            assert_eq!(paths[&path][method]["operationId"], operation, "{method} {path}");
        }
        let schemas = &doc["components"]["schemas"];
        let properties: Vec<&String> = schemas["PolicyOut"]["properties"].as_object().unwrap().keys().collect();
        assert_eq!(
            properties,
            [
                "uuid", "url", "scope", "scope_name", "scope_uuid", "actions", "created", "created_by_full_name",
                "created_by_username", "has_fired", "fired_datetime", "options", "affected_resources_count",
                "component_limits_set", "warning_thresholds", "reset_below_percent", "warning_level"
            ]
        );
        // The ladder's fields are in every policy (docs/ladder.md §1).
        let required = schemas["PolicyOut"]["required"].as_array().unwrap();
        for field in ["warning_thresholds", "reset_below_percent"] {
            assert!(required.contains(&json!(field)), "{field} is required");
        }
        let limit: Vec<&String> = schemas["LimitRequest"]["properties"].as_object().unwrap().keys().collect();
        assert_eq!(limit, ["limit", "period", "component"]);
        assert_eq!(schemas["LimitRequest"]["required"], json!(["limit", "component"]));
    }
);

api_test!(
    async fn every_list_is_documented_with_its_count_and_answers_head_with_the_count(app) {
        let doc = app.call(Method::GET, "/api/schema/", None, None).await.expect(200);
        let mut lists = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            let Some(list) = item["get"]["operationId"].as_str().and_then(|id| id.strip_suffix("_list")) else {
                continue;
            };
            lists += 1;
            assert_eq!(item["head"]["operationId"], format!("{list}_count"), "{path}");
            assert_eq!(item["head"]["parameters"], item["get"]["parameters"], "{path}");
            assert!(item["head"]["responses"]["200"].get("content").is_none(), "{path}");
        }
        assert!(lists >= 15, "{lists} lists documented");

        app.customer("Acme").await;
        app.customer("Globex").await;
        let reply = app.call(Method::HEAD, "/api/customers/", Some(app.staff()), None).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("x-result-count").as_deref(), Some("2"));
    }
);

api_test!(
    backend,
    async fn hyperlinks_follow_the_host_a_trusted_proxy_or_the_public_url(backend) {
        let direct = crate::helpers::spawn_app(backend).await;
        let customer = direct.customer("Acme").await;
        assert!(customer["url"].as_str().unwrap().starts_with(&direct.address), "{customer}");
        let forwarded = direct
            .http
            .get(direct.url("/api/customers/"))
            .header("Authorization", format!("Token {}", direct.staff()))
            .header("X-Forwarded-Proto", "https")
            .header("X-Forwarded-Host", "proxy.example")
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap();
        assert!(forwarded[0]["url"].as_str().unwrap().starts_with(&direct.address), "untrusted headers are ignored");

        let proxied = crate::helpers::spawn_app_with(backend, |s| s.trust_proxy_headers = true).await;
        proxied.customer("Acme").await;
        let list = proxied
            .http
            .get(proxied.url("/api/customers/"))
            .header("Authorization", format!("Token {}", proxied.staff()))
            .header("X-Forwarded-Proto", "https")
            .header("X-Forwarded-Host", "proxy.example")
            .send()
            .await
            .unwrap();
        assert!(list.headers()["link"].to_str().unwrap().contains("<https://proxy.example/api/customers/>"));
        let body: serde_json::Value = list.json().await.unwrap();
        assert!(body[0]["url"].as_str().unwrap().starts_with("https://proxy.example/api/customers/"), "{body}");

        let public = crate::helpers::spawn_app_with(backend, |s| s.public_url = Some("https://mg.example/".into())).await;
        let customer = public.customer("Acme").await;
        assert!(customer["url"].as_str().unwrap().starts_with("https://mg.example/api/customers/"), "{customer}");
    }
);
