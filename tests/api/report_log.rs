//! The report log: docs/api.md §8.4.

use crate::api_test;
use crate::fixtures::{marketplace, role_tokens};
use crate::helpers::TestApp;
use chrono::{Datelike, Utc};
use reqwest::Method;
use serde_json::{json, Value};

const LOG: &str = "/api/marketplace-component-usage-reports/";
const SET_USAGE: &str = "/api/marketplace-component-usages/set_usage/";
const USAGES: &str = "/api/marketplace-component-usages/";

async fn report(app: &TestApp, token: &str, resource: &str, r#type: &str, amount: &str) -> crate::helpers::Reply {
    let body = json!({"resource": resource, "usages": [{"type": r#type, "amount": amount}]});
    app.post(SET_USAGE, token, body).await
}

async fn log(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let reply = app.get(&format!("{LOG}{query}"), token).await.expect(200);
    reply.as_array().expect("a list").clone()
}

fn amounts(entries: &[Value]) -> Vec<(&str, bool)> {
    entries
        .iter()
        .map(|e| {
            (
                e["amount"].as_str().expect("amount"),
                e["deleted"].as_bool().expect("deleted"),
            )
        })
        .collect()
}

async fn me(app: &TestApp, token: &str) -> String {
    let me = app.get("/api/users/me/", token).await.expect(200);
    me["uuid"].as_str().expect("uuid").to_string()
}

api_test!(
    async fn every_report_is_logged_newest_first_with_repeats_and_deletions(app) {
        let m = marketplace(&app).await;
        let resource = m.resource(&app, "logged").await;
        let provider = m.provider_token().to_string();
        for amount in ["10", "25.5", "25.5"] {
            report(&app, &provider, &resource, "cpu_hours", amount).await.expect(201);
        }
        // A refused report is not logged.
        report(&app, &provider, &resource, "no_such_type", "1").await.expect(400);

        let reply = app.get(LOG, app.staff()).await;
        assert_eq!(reply.header("x-result-count").as_deref(), Some("3"));
        let entries = reply.expect(200);
        let entries = entries.as_array().expect("a list");
        assert_eq!(
            amounts(entries),
            [("25.50", false), ("25.50", false), ("10.00", false)]
        );
        let now = Utc::now();
        let first = &entries[0];
        assert_eq!(first["resource_uuid"], resource.as_str());
        assert_eq!(first["customer_uuid"], m.customer_uuid());
        assert_eq!(first["type"], "cpu_hours");
        assert_eq!(first["billing_month"], format!("{:04}-{:02}", now.year(), now.month()));
        assert_eq!(first["reported_by"], me(&app, &provider).await.as_str());
        assert_eq!(first["reported_by_username"], "provider");
        assert!(first["resource"].as_str().expect("url").ends_with(&format!("/api/marketplace-resources/{resource}/")));
        let reported_at = |e: &Value| e["reported_at"].as_str().expect("reported_at").to_string();
        assert!(reported_at(&entries[0]) >= reported_at(&entries[1]));
        assert!(reported_at(&entries[1]) >= reported_at(&entries[2]));

        // Deleting the month's row is logged as a report of 0, by the staff user who deleted it.
        let rows = app.get(&format!("{USAGES}?resource_uuid={resource}"), app.staff()).await.expect(200);
        let row = rows[0]["uuid"].as_str().expect("usage uuid").to_string();
        app.delete(&format!("{USAGES}{row}/"), app.staff()).await.expect(204);
        let entries = log(&app, app.staff(), "").await;
        assert_eq!(amounts(&entries)[0], ("0.00", true));
        assert_eq!(entries[0]["reported_by"], me(&app, app.staff()).await.as_str());
        assert_eq!(entries.len(), 4);
    }
);

api_test!(
    async fn a_deleted_reporter_and_a_removed_component_leave_the_log_as_documented(app) {
        let m = marketplace(&app).await;
        let resource = m.resource(&app, "kept").await;
        let provider = m.provider_token().to_string();
        report(&app, &provider, &resource, "cpu_hours", "3").await.expect(201);
        report(&app, &provider, &resource, "storage_gb", "7").await.expect(201);

        // A deleted reporter's entries stay, naming nobody (docs/api.md §8.4).
        let reporter = me(&app, &provider).await;
        app.delete(&format!("/api/users/{reporter}/"), app.staff()).await.expect(204);
        let entries = log(&app, app.staff(), "").await;
        assert_eq!(entries.len(), 2);
        assert!(entries.iter().all(|e| e["reported_by"].is_null() && e["reported_by_username"].is_null()));

        // A removed component's entries go with it; the others stay.
        let offering = m.offering["uuid"].as_str().expect("offering uuid");
        let remove = format!("/api/marketplace-provider-offerings/{offering}/remove_offering_component/");
        app.post(&remove, app.staff(), json!({"uuid": m.component("cpu_hours")})).await.expect(200);
        let entries = log(&app, app.staff(), "").await;
        let types: Vec<&str> = entries.iter().map(|e| e["type"].as_str().expect("type")).collect();
        assert_eq!(types, ["storage_gb"]);
        assert_eq!(amounts(&entries), [("7.00", false)]);
    }
);

api_test!(
    async fn the_filters_narrow_the_log_and_refuse_what_they_cannot_read(app) {
        let m = marketplace(&app).await;
        let first = m.resource(&app, "first").await;
        let second = m.resource(&app, "second").await;
        let provider = m.provider_token().to_string();
        report(&app, &provider, &first, "cpu_hours", "1").await.expect(201);
        report(&app, &provider, &second, "cpu_hours", "2").await.expect(201);
        report(&app, &provider, &second, "cpu_hours", "3").await.expect(201);

        let staff = app.staff();
        assert_eq!(amounts(&log(&app, staff, &format!("?resource_uuid={first}")).await), [("1.00", false)]);
        assert_eq!(log(&app, staff, &format!("?resource_uuid={second}")).await.len(), 2);
        assert_eq!(log(&app, staff, "?type=cpu_hours").await.len(), 3);
        assert_eq!(log(&app, staff, "?type=storage_gb").await.len(), 0);
        assert_eq!(log(&app, staff, &format!("?customer_uuid={}", m.customer_uuid())).await.len(), 3);
        assert_eq!(log(&app, staff, &format!("?customer_uuid={}", "0".repeat(32))).await.len(), 0);
        assert_eq!(log(&app, staff, "?reported_after=2999-01-01T00:00:00Z").await.len(), 0);
        assert_eq!(log(&app, staff, "?reported_before=2000-01-01T00:00:00Z").await.len(), 0);
        assert_eq!(log(&app, staff, "?reported_after=2000-01-01&reported_before=2999-01-01").await.len(), 3);

        let bad = app.get(&format!("{LOG}?resource_uuid=nope"), staff).await.expect(400);
        assert_eq!(bad, json!({"resource_uuid": ["Enter a valid UUID."]}));
        let bad = app.get(&format!("{LOG}?reported_after=yesterday"), staff).await.expect(400);
        assert_eq!(bad, json!({"reported_after": ["Enter a valid date/time."]}));
    }
);

api_test!(
    async fn the_log_is_seen_by_whoever_sees_the_usage(app) {
        let m = marketplace(&app).await;
        let resource = m.resource(&app, "seen").await;
        report(&app, m.provider_token(), &resource, "cpu_hours", "7").await.expect(201);
        let roles = role_tokens(&app, &m).await;
        for (who, token) in [
            ("support", roles.support.as_str()),
            ("owner", m.owner_token()),
            ("customer manager", roles.manager.as_str()),
            ("project member", roles.project_member.as_str()),
            ("provider owner", m.provider_token()),
        ] {
            assert_eq!(log(&app, token, "").await.len(), 1, "{who}");
        }
        assert_eq!(log(&app, &roles.nobody, "").await.len(), 0, "a user with no role");
        app.call(Method::GET, LOG, None, None).await.expect(401);
    }
);
