//! The policy resource: docs/api.md §4, docs/evaluation.md §6 and docs/differences.md §1.

use crate::api_test;
use crate::fixtures::{marketplace, role_tokens, Marketplace};
use crate::helpers::{hyphenate, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

const BASE: &str = "/api/marketplace-customer-component-usage-policies/";

fn detail(uuid: &str) -> String {
    format!("{BASE}{uuid}/")
}

fn body(m: &Marketplace, limits: Value) -> Value {
    json!({
        "scope": m.customer_url(),
        "actions": "notify_organization_owners,request_pausing",
        "options": {},
        "component_limits_set": limits,
    })
}

async fn create(app: &TestApp, m: &Marketplace) -> Value {
    let limits = json!([{"component": m.component("cpu_hours"), "limit": 100, "period": 1}]);
    app.post(BASE, app.staff(), body(m, limits)).await.expect(201)
}

api_test!(
    async fn create_returns_every_field_in_upstream_order(app) {
        let m = marketplace(&app).await;
        let limits = json!([
            {"component": hyphenate(&m.component("cpu_hours")), "limit": 100, "period": 1},
            {"component": m.component("storage_gb"), "limit": 5, "period": "4"}
        ]);
        let policy = app.post(BASE, app.staff(), body(&m, limits)).await.expect(201);
        let keys: Vec<&str> = policy.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "uuid", "url", "scope", "scope_name", "scope_uuid", "actions", "created",
                "created_by_full_name", "created_by_username", "has_fired", "fired_datetime",
                "options", "affected_resources_count", "component_limits_set",
                // The ladder's fields, after upstream's, in every policy (docs/ladder.md §1).
                "warning_thresholds", "reset_below_percent", "warning_level"
            ]
        );
        assert_eq!(policy["warning_thresholds"], json!([]));
        assert_eq!(policy["reset_below_percent"], 100);
        assert_eq!(policy["warning_level"], Value::Null);
        let uuid = policy["uuid"].as_str().unwrap();
        assert_eq!(uuid.len(), 32);
        assert_eq!(policy["url"], format!("{}{}", app.address, detail(uuid)));
        assert_eq!(policy["scope"], m.customer_url());
        assert_eq!(policy["scope_name"], "Consumer Org");
        assert_eq!(policy["scope_uuid"], m.customer_uuid());
        assert_eq!(policy["actions"], "notify_organization_owners,request_pausing");
        assert_eq!(policy["created_by_full_name"], "Stella Staff");
        assert_eq!(policy["created_by_username"], "staff");
        assert_eq!(policy["has_fired"], false);
        assert_eq!(policy["fired_datetime"], Value::Null);
        assert_eq!(policy["options"], json!({}));
        assert_eq!(policy["affected_resources_count"], 0);
        let created = policy["created"].as_str().unwrap();
        assert!(created.ends_with('Z') && created.len() == 27, "{created}");
        assert_eq!(
            policy["component_limits_set"],
            json!([
                {"type": "cpu_hours", "limit": 100, "period": 1, "period_name": "Total",
                 "component": m.component("cpu_hours")},
                {"type": "storage_gb", "limit": 5, "period": 4, "period_name": "12 month",
                 "component": m.component("storage_gb")}
            ])
        );
        let fetched = app.get(&detail(uuid), app.staff()).await.expect(200);
        assert_eq!(fetched, policy);
    }
);

api_test!(
    async fn period_defaults_to_one_month_and_null_is_refused(app) {
        let m = marketplace(&app).await;
        let limits = json!([{"component": m.component("cpu_hours"), "limit": 10}]);
        let policy = app.post(BASE, app.staff(), body(&m, limits)).await.expect(201);
        assert_eq!(policy["component_limits_set"][0]["period"], 2);
        assert_eq!(policy["component_limits_set"][0]["period_name"], "1 month");

        let limits = json!([{"component": m.component("cpu_hours"), "limit": 10, "period": null}]);
        let err = app.post(BASE, app.staff(), body(&m, limits)).await.expect(400);
        assert_eq!(err, json!({"component_limits_set": [{"period": ["This field may not be null."]}]}));
    }
);

api_test!(
    async fn every_period_has_its_display_name(app) {
        let m = marketplace(&app).await;
        let c = m.component("cpu_hours");
        let limits: Vec<Value> = (1..=4).map(|p| json!({"component": c, "limit": 1, "period": p})).collect();
        let policy = app.post(BASE, app.staff(), body(&m, json!(limits))).await.expect(201);
        let names: Vec<&str> =
            policy["component_limits_set"].as_array().unwrap().iter().map(|l| l["period_name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Total", "1 month", "3 month", "12 month"]);
    }
);

api_test!(
    async fn actions_are_normalised_and_unavailable_ones_refused(app) {
        let m = marketplace(&app).await;
        let mut b = body(&m, json!([]));
        b["actions"] = json!(" request_pausing , notify_organization_owners,request_pausing");
        let policy = app.post(BASE, app.staff(), b.clone()).await.expect(201);
        assert_eq!(policy["actions"], "request_pausing,notify_organization_owners");

        for bad in ["notify_project_team", "request_pausing,", "a,,b"] {
            b["actions"] = json!(bad);
            let err = app.post(BASE, app.staff(), b.clone()).await.expect(400);
            assert_eq!(err, json!({"actions": [format!("{bad} includes unavailable actions.")]}));
        }
        // A number is taken as its text, as DRF's CharField does.
        b["actions"] = json!(5);
        assert_eq!(app.post(BASE, app.staff(), b.clone()).await.expect(400), json!({"actions": ["5 includes unavailable actions."]}));
        b["actions"] = json!("");
        assert_eq!(app.post(BASE, app.staff(), b.clone()).await.expect(400), json!({"actions": ["This field may not be blank."]}));
        b["actions"] = json!("request_pausing,".repeat(20));
        assert_eq!(
            app.post(BASE, app.staff(), b.clone()).await.expect(400),
            json!({"actions": ["Ensure this field has no more than 255 characters."]})
        );
        b.as_object_mut().unwrap().remove("actions");
        assert_eq!(app.post(BASE, app.staff(), b).await.expect(400), json!({"actions": ["This field is required."]}));
    }
);

api_test!(
    async fn options_are_validated(app) {
        let m = marketplace(&app).await;
        let mut b = body(&m, json!([]));
        let cases = [
            (json!({"foo": 1}), "foo is not an available action."),
            (json!({"notify_external_user": ["a@b.org"]}), "Options for notify_external_user are invalid."),
            (json!({"notify_external_user": "a@b.org, not-an-email"}), "Options for notify_external_user are invalid."),
            (json!("{not json"), "Options must be a valid JSON object."),
            (json!([1]), "Options must be a dictionary."),
            (json!(null), "This field may not be null."),
        ];
        for (options, message) in cases {
            b["options"] = options.clone();
            let err = app.post(BASE, app.staff(), b.clone()).await.expect(400);
            assert_eq!(err, json!({"options": [message]}), "options {options}");
        }
        b["options"] = json!({"notify_external_user": " a@b.org , ,c@d.org"});
        let policy = app.post(BASE, app.staff(), b.clone()).await.expect(201);
        assert_eq!(policy["options"], json!({"notify_external_user": " a@b.org , ,c@d.org"}));
        // An enforcing action's options are its grace period and nothing else (docs/ladder.md §1).
        b["options"] = json!("{\"request_pausing\": true}");
        let err = app.post(BASE, app.staff(), b.clone()).await.expect(400);
        assert_eq!(err, json!({"options": ["Options for request_pausing are invalid."]}));
        b["options"] = json!("{\"request_pausing\": {\"grace_minutes\": 30}}");
        let policy = app.post(BASE, app.staff(), b.clone()).await.expect(201);
        assert_eq!(policy["options"], json!({"request_pausing": {"grace_minutes": 30}}));
        b["options"] = json!([]);
        assert_eq!(app.post(BASE, app.staff(), b).await.expect(201)["options"], json!({}));
    }
);

api_test!(
    async fn scope_errors_are_drf_hyperlink_messages(app) {
        let m = marketplace(&app).await;
        let mut b = body(&m, json!([]));
        let project_url = m.project["url"].as_str().unwrap().to_string();
        let unknown = format!("{}/api/customers/{}/", app.address, "ab".repeat(16));
        let cases = [
            (json!("http://example.org/nowhere/"), "Invalid hyperlink - No URL match."),
            (json!(project_url), "Invalid hyperlink - Incorrect URL match."),
            (json!(unknown), "Invalid hyperlink - Object does not exist."),
            (json!(null), "This field may not be null."),
            (json!(12), "Incorrect type. Expected URL string, received int."),
        ];
        for (scope, message) in cases {
            b["scope"] = scope;
            assert_eq!(app.post(BASE, app.staff(), b.clone()).await.expect(400), json!({"scope": [message]}));
        }
        // A body refused for another field still names the scope's error, as DRF checks every field.
        let mut both = b.clone();
        both["scope"] = json!(unknown);
        both["actions"] = json!(7);
        let err = app.post(BASE, app.staff(), both).await.expect(400);
        assert_eq!(err["scope"], json!(["Invalid hyperlink - Object does not exist."]), "{err}");
        assert!(err.get("actions").is_some(), "{err}");
        b.as_object_mut().unwrap().remove("scope");
        assert_eq!(app.post(BASE, app.staff(), b.clone()).await.expect(400), json!({"scope": ["This field is required."]}));
        // The host part of a hyperlink is ignored.
        b["scope"] = json!(format!("https://elsewhere.example/api/customers/{}/", m.customer_uuid()));
        app.post(BASE, app.staff(), b).await.expect(201);
    }
);

api_test!(
    async fn limit_items_report_errors_per_item(app) {
        let m = marketplace(&app).await;
        let c = m.component("cpu_hours");
        let limits = json!([
            {"component": c, "limit": 1},
            {"limit": "x"},
            {"component": "nope", "limit": 2147483648_i64, "period": 5},
            {"component": c, "limit": -2147483649_i64},
            "text",
            {"component": c, "limit": "99999999999999999999", "period": "+3"},
            {"component": c, "limit": 1, "period": true}
        ]);
        let err = app.post(BASE, app.staff(), body(&m, limits)).await.expect(400);
        assert_eq!(
            err,
            json!({"component_limits_set": [
                {},
                {"limit": ["A valid integer is required."], "component": ["This field is required."]},
                {"limit": ["Ensure this value is less than or equal to 2147483647."],
                 "period": ["\"5\" is not a valid choice."], "component": ["Must be a valid UUID."]},
                {"limit": ["Ensure this value is greater than or equal to -2147483648."]},
                {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]},
                {"limit": ["Ensure this value is less than or equal to 2147483647."], "period": ["\"+3\" is not a valid choice."]},
                {"period": ["\"True\" is not a valid choice."]}
            ]})
        );
        let err = app.post(BASE, app.staff(), body(&m, json!({"a": 1}))).await.expect(400);
        assert_eq!(
            err,
            json!({"component_limits_set": {"non_field_errors": ["Expected a list of items but got type \"dict\"."]}})
        );
        let mut b = body(&m, json!([]));
        b.as_object_mut().unwrap().remove("component_limits_set");
        assert_eq!(
            app.post(BASE, app.staff(), b).await.expect(400),
            json!({"component_limits_set": ["This field is required."]})
        );
    }
);

api_test!(
    async fn database_checks_fail_whole_and_leave_nothing(app) {
        let m = marketplace(&app).await;
        let c = m.component("cpu_hours");
        let cases = [
            (
                json!([{"component": c, "limit": 1, "period": 2}, {"component": c, "limit": 5, "period": 2}]),
                "Duplicate component limits for the same component and period.".to_string(),
            ),
            (
                json!([{"component": c, "limit": 1}, {"component": c, "limit": 5, "period": "2"}]),
                "Duplicate component limits for the same component and period.".to_string(),
            ),
            (
                json!([{"component": "ab".repeat(16), "limit": 1}]),
                format!("Component with uuid {} does not exist.", hyphenate(&"ab".repeat(16))),
            ),
            (
                json!([{"component": c, "limit": 1}, {"component": m.component("base"), "limit": 1}]),
                "Component base has billing type fixed which is not supported for usage policies. \
                 Only USAGE and LIMIT billing types are supported."
                    .to_string(),
            ),
            (
                json!([{"component": m.component("setup"), "limit": 1}]),
                "Component setup has billing type one which is not supported for usage policies. \
                 Only USAGE and LIMIT billing types are supported."
                    .to_string(),
            ),
        ];
        for (limits, message) in cases {
            assert_eq!(app.post(BASE, app.staff(), body(&m, limits)).await.expect(400), json!([message]));
        }
        let list = app.get(BASE, app.staff()).await;
        assert_eq!(list.header("x-result-count").as_deref(), Some("0"));
    }
);

api_test!(
    async fn limits_are_replaced_and_a_failed_patch_keeps_the_old_ones(app) {
        let m = marketplace(&app).await;
        let policy = create(&app, &m).await;
        let path = detail(policy["uuid"].as_str().unwrap());
        let c = m.component("cpu_hours");

        let one = app.patch(&path, app.staff(), json!({"component_limits_set": [{"component": c, "limit": 10, "period": 2}]})).await.expect(200);
        assert_eq!(one["component_limits_set"], json!([{"type": "cpu_hours", "limit": 10, "period": 2, "period_name": "1 month", "component": c}]));

        let two = json!([{"component": c, "limit": 2, "period": 2}, {"component": c, "limit": 5, "period": 3}]);
        let after = app.patch(&path, app.staff(), json!({"component_limits_set": two})).await.expect(200);
        assert_eq!(after["component_limits_set"].as_array().unwrap().len(), 2);

        let fixed = json!([{"component": m.component("base"), "limit": 2, "period": 2}]);
        app.patch(&path, app.staff(), json!({"component_limits_set": fixed, "actions": "request_downscaling"})).await.expect(400);
        let dup = json!([{"component": c, "limit": 10, "period": 1}, {"component": c, "limit": 10, "period": 1}]);
        app.patch(&path, app.staff(), json!({"component_limits_set": dup})).await.expect(400);
        let kept = app.get(&path, app.staff()).await.expect(200);
        assert_eq!(kept["component_limits_set"], after["component_limits_set"]);
        assert_eq!(kept["actions"], "notify_organization_owners,request_pausing");

        let untouched = app.patch(&path, app.staff(), json!({"actions": "notify_external_user"})).await.expect(200);
        assert_eq!(untouched["component_limits_set"], after["component_limits_set"]);
        assert_eq!(untouched["actions"], "notify_external_user");

        let cleared = app.patch(&path, app.staff(), json!({"component_limits_set": []})).await.expect(200);
        assert_eq!(cleared["component_limits_set"], json!([]));
    }
);

api_test!(
    async fn put_replaces_everything_and_requires_every_field(app) {
        let m = marketplace(&app).await;
        let policy = create(&app, &m).await;
        let path = detail(policy["uuid"].as_str().unwrap());
        let err = app.put(&path, app.staff(), json!({"actions": "request_pausing"})).await.expect(400);
        assert_eq!(
            err,
            json!({"scope": ["This field is required."], "component_limits_set": ["This field is required."]})
        );
        let other = app.customer("Other Org").await;
        let new_body = json!({
            "scope": other["url"], "actions": "terminate_resources",
            "component_limits_set": [{"component": m.component("storage_gb"), "limit": 7, "period": 3}],
            "uuid": "ignored", "has_fired": true
        });
        let updated = app.put(&path, app.staff(), new_body).await.expect(200);
        assert_eq!(updated["scope_uuid"], other["uuid"]);
        assert_eq!(updated["actions"], "terminate_resources");
        assert_eq!(updated["uuid"], policy["uuid"]);
        assert_eq!(updated["has_fired"], false);
        assert_eq!(updated["options"], json!({}));
        assert_eq!(updated["component_limits_set"][0]["limit"], 7);
    }
);

api_test!(
    async fn delete_removes_and_then_404s(app) {
        let m = marketplace(&app).await;
        let policy = create(&app, &m).await;
        create(&app, &m).await;
        let count = app.get(BASE, app.staff()).await.header("x-result-count");
        assert_eq!(count.as_deref(), Some("2"));
        let path = detail(policy["uuid"].as_str().unwrap());
        assert_eq!(app.delete(&path, app.staff()).await.expect(204), Value::Null);
        let count = app.get(BASE, app.staff()).await.header("x-result-count");
        assert_eq!(count.as_deref(), Some("1"));
        let gone = app.get(&path, app.staff()).await.expect(404);
        assert_eq!(gone, json!({"detail": "No CustomerComponentUsagePolicy matches the given query."}));
        app.delete(&path, app.staff()).await.expect(404);
        app.patch(&path, app.staff(), json!({})).await.expect(404);
        app.get(&detail("not-a-uuid"), app.staff()).await.expect(404);
    }
);

api_test!(
    async fn deleting_the_creator_keeps_the_policy(app) {
        let m = marketplace(&app).await;
        let (creator_uuid, _) = app.user("creator").await;
        let path = format!("/api/users/{creator_uuid}/");
        app.patch(&path, app.staff(), json!({"is_staff": true})).await.expect(200);
        let login = json!({"username": "creator", "password": "pass-1234"});
        let token = app.call(Method::POST, "/api-auth/password/", None, Some(login)).await.expect(200);
        let token = token["token"].as_str().unwrap();
        let limits = json!([{"component": m.component("cpu_hours"), "limit": 1}]);
        let policy = app.post(BASE, token, body(&m, limits)).await.expect(201);
        assert_eq!(policy["created_by_username"], "creator");
        app.delete(&path, app.staff()).await.expect(204);
        let kept = app.get(&detail(policy["uuid"].as_str().unwrap()), app.staff()).await.expect(200);
        assert_eq!(kept["created_by_username"], "");
        assert_eq!(kept["created_by_full_name"], "");
    }
);

api_test!(
    async fn actions_endpoint_lists_the_eight_names_sorted(app) {
        let (_, token) = app.user("plain").await;
        let names = app.get(&format!("{BASE}actions/"), &token).await.expect(200);
        assert_eq!(
            names,
            json!([
                "block_creation_of_new_resources", "block_modification_of_existing_resources",
                "notify_external_user", "notify_organization_owners", "request_downscaling",
                "request_pausing", "restrict_members", "terminate_resources"
            ])
        );
        let head = app.call(Method::HEAD, &format!("{BASE}actions/"), Some(&token), None).await;
        assert_eq!(head.status, 200);
        app.call(Method::GET, &format!("{BASE}actions/"), None, None).await.expect(401);
    }
);

api_test!(
    async fn reads_follow_customer_roles(app) {
        let m = marketplace(&app).await;
        let policy = create(&app, &m).await;
        let path = detail(policy["uuid"].as_str().unwrap());
        let c = role_tokens(&app, &m).await;
        for token in [app.staff(), &c.support, &c.owner, &c.manager, &c.customer_support] {
            let list = app.get(BASE, token).await;
            assert_eq!(list.header("x-result-count").as_deref(), Some("1"));
            assert_eq!(list.expect(200)[0]["uuid"], policy["uuid"]);
            app.get(&path, token).await.expect(200);
        }
        for token in [&c.project_member, &c.nobody] {
            assert_eq!(app.get(BASE, token).await.expect(200), json!([]));
            app.get(&path, token).await.expect(404);
        }
        let anon = app.call(Method::GET, BASE, None, None).await;
        assert_eq!(anon.header("www-authenticate").as_deref(), Some("Token"));
        assert_eq!(anon.expect(401), json!({"detail": "Authentication credentials were not provided."}));
        app.call(Method::GET, &path, None, None).await.expect(401);
    }
);

api_test!(
    async fn writes_are_staff_only_and_checked_before_lookup(app) {
        let m = marketplace(&app).await;
        let policy = create(&app, &m).await;
        let path = detail(policy["uuid"].as_str().unwrap());
        let missing = detail(&"cd".repeat(16));
        let c = role_tokens(&app, &m).await;
        let denied = json!({"detail": "You do not have permission to perform this action."});
        for token in [&c.support, &c.owner, &c.manager, &c.customer_support, &c.project_member, &c.nobody] {
            assert_eq!(app.post(BASE, token, body(&m, json!([]))).await.expect(403), denied);
            assert_eq!(app.post(BASE, token, json!({"garbage": true})).await.expect(403), denied);
            for p in [&path, &missing] {
                app.put(p, token, body(&m, json!([]))).await.expect(403);
                app.patch(p, token, json!({"actions": "notify_external_user"})).await.expect(403);
                app.delete(p, token).await.expect(403);
            }
        }
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let target = if method == Method::POST { BASE } else { path.as_str() };
            app.call(method, target, None, Some(json!({}))).await.expect(401);
        }
        let bad = app.call(Method::GET, BASE, Some("0123456789abcdef0123456789abcdef01234567"), None).await;
        assert_eq!(bad.expect(401), json!({"detail": "Invalid token."}));
        let unchanged = app.get(&path, app.staff()).await.expect(200);
        assert_eq!(unchanged, policy);
        app.patch(&path, app.staff(), json!({"actions": "notify_external_user"})).await.expect(200);
        app.patch(&missing, app.staff(), json!({"actions": "notify_external_user"})).await.expect(404);
    }
);

api_test!(
    async fn filters_match_by_url_and_by_uuid_in_both_forms(app) {
        let m = marketplace(&app).await;
        let mine = create(&app, &m).await;
        let other = app.customer("Other Org").await;
        let mut b = body(&m, json!([]));
        b["scope"] = other["url"].clone();
        app.post(BASE, app.staff(), b).await.expect(201);

        let uuid = m.customer_uuid();
        let url = m.customer_url();
        for query in [
            format!("customer={url}"),
            format!("scope={url}"),
            format!("customer_uuid={uuid}"),
            format!("scope_uuid={}", hyphenate(uuid)),
            format!("customer_uuid={}", hyphenate(uuid)),
            format!("scope_uuid={uuid}"),
        ] {
            let list = app.get(&format!("{BASE}?{query}"), app.staff()).await.expect(200);
            let uuids: Vec<&Value> = list.as_array().unwrap().iter().map(|p| &p["uuid"]).collect();
            assert_eq!(uuids, vec![&mine["uuid"]], "{query}");
        }
        let all = app.get(&format!("{BASE}?customer=&scope_uuid="), app.staff()).await.expect(200);
        assert_eq!(all.as_array().unwrap().len(), 2);
        let project_url = m.project["url"].as_str().unwrap();
        let none = app.get(&format!("{BASE}?customer={project_url}"), app.staff()).await.expect(200);
        assert_eq!(none, json!([]));
        // A filter that matches nothing beside others that name customers, with one and with two
        // of those (found by schemathesis): PostgreSQL keeps a prepared statement with as many
        // parameters as its first execution bound, so the same text bound with more failed.
        for _ in 0..10 {
            let (one, two) = (format!("&scope={url}"), format!("&scope={url}&customer_uuid={uuid}"));
            for named in ["", &one, &two] {
                let mixed = format!("{BASE}?customer=%3F{named}");
                assert_eq!(app.get(&mixed, app.staff()).await.expect(200), json!([]), "{mixed}");
            }
        }
        let err = app.get(&format!("{BASE}?customer_uuid=zzz"), app.staff()).await.expect(400);
        assert_eq!(err, json!({"customer_uuid": ["Enter a valid UUID."]}));
        let unknown = app.get(&format!("{BASE}?unknown=1&customer_uuid={uuid}"), app.staff()).await.expect(200);
        assert_eq!(unknown.as_array().unwrap().len(), 1);
    }
);

api_test!(
    async fn lists_are_newest_first_and_paginated_with_link_headers(app) {
        let m = marketplace(&app).await;
        let mut created = Vec::new();
        for _ in 0..25 {
            created.push(create(&app, &m).await["uuid"].clone());
        }
        created.reverse();
        let base = format!("{}{BASE}", app.address);

        let first = app.get(BASE, app.staff()).await;
        assert_eq!(first.header("x-result-count").as_deref(), Some("25"));
        assert_eq!(
            first.header("link").unwrap(),
            format!("<{base}>; rel=\"first\", <{base}?page=2>; rel=\"next\", <{base}?page=3>; rel=\"last\"")
        );
        let items = first.expect(200);
        assert_eq!(items.as_array().unwrap().iter().map(|p| p["uuid"].clone()).collect::<Vec<_>>(), created[..10]);

        let second = app.get(&format!("{BASE}?page=2&page_size=10"), app.staff()).await;
        assert_eq!(
            second.header("link").unwrap(),
            format!(
                "<{base}?page_size=10>; rel=\"first\", <{base}?page_size=10>; rel=\"prev\", \
                 <{base}?page=3&page_size=10>; rel=\"next\", <{base}?page=3&page_size=10>; rel=\"last\""
            )
        );
        assert_eq!(second.expect(200).as_array().unwrap()[0]["uuid"], created[10]);

        let last = app.get(&format!("{BASE}?page=3"), app.staff()).await.expect(200);
        assert_eq!(last.as_array().unwrap().len(), 5);
        assert_eq!(app.get(&format!("{BASE}?page=4"), app.staff()).await.expect(404), json!({"detail": "Invalid page."}));
        app.get(&format!("{BASE}?page=0"), app.staff()).await.expect(404);
        app.get(&format!("{BASE}?page=x"), app.staff()).await.expect(404);
        // Offsets at the edge of i64 (and past it) are pages past the end, not server errors.
        for huge in ["922337203685477580", "9223372036854775807", "99999999999999999999"] {
            app.get(&format!("{BASE}?page={huge}"), app.staff()).await.expect(404);
        }
        let last_alias = app.get(&format!("{BASE}?page=last"), app.staff()).await.expect(200);
        assert_eq!(last_alias, last);

        let big = app.get(&format!("{BASE}?page_size=1000"), app.staff()).await.expect(200);
        assert_eq!(big.as_array().unwrap().len(), 25);
        let invalid = app.get(&format!("{BASE}?page_size=-1"), app.staff()).await.expect(200);
        assert_eq!(invalid.as_array().unwrap().len(), 10);

        let head = app.call(Method::HEAD, &format!("{BASE}?page_size=5"), Some(app.staff()), None).await;
        assert_eq!(head.status, 200);
        assert_eq!(head.header("x-result-count").as_deref(), Some("25"));
        assert!(head.header("link").unwrap().contains("?page=5&page_size=5>; rel=\"last\""));
        assert_eq!(head.body, Value::Null);
    }
);

api_test!(
    async fn page_size_is_capped_at_300(app) {
        let m = marketplace(&app).await;
        for _ in 0..301 {
            create(&app, &m).await;
        }
        let page = app.get(&format!("{BASE}?page_size=500"), app.staff()).await;
        assert_eq!(page.header("x-result-count").as_deref(), Some("301"));
        assert!(page.header("link").unwrap().contains("?page=2&page_size=500>; rel=\"next\""));
        assert_eq!(page.expect(200).as_array().unwrap().len(), 300);
    }
);

api_test!(
    async fn paths_without_a_slash_redirect_or_404(app) {
        let list = app.call(Method::GET, "/api/marketplace-customer-component-usage-policies?page=2", Some(app.staff()), None).await;
        assert_eq!(list.status, 301);
        assert_eq!(list.header("location").as_deref(), Some("/api/marketplace-customer-component-usage-policies/?page=2"));
        let post = app.call(Method::POST, "/api/marketplace-customer-component-usage-policies", Some(app.staff()), Some(json!({}))).await;
        assert_eq!(post.expect(404), json!({"detail": "Not found."}));
        let put = app.call(Method::PUT, BASE, Some(app.staff()), Some(json!({}))).await;
        assert_eq!(put.expect(405), json!({"detail": "Method \"PUT\" not allowed."}));
    }
);
