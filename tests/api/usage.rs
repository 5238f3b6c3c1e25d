//! Usage reporting and the real-time engine: docs/evaluation.md §2–§7 and docs/api.md §8.

use crate::api_test;
use crate::fixtures::{marketplace, Marketplace};
use crate::helpers::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

const POLICIES: &str = "/api/marketplace-customer-component-usage-policies/";
const SET_USAGE: &str = "/api/marketplace-component-usages/set_usage/";
const USAGES: &str = "/api/marketplace-component-usages/";

async fn policy(app: &TestApp, m: &Marketplace, limit: i64, period: i64) -> String {
    m.cpu_policy(app, "notify_organization_owners", limit, period).await
}

async fn report(app: &TestApp, token: &str, resource: &str, amount: Value) -> crate::helpers::Reply {
    let body = json!({"resource": resource, "usages": [{"type": "cpu_hours", "amount": amount}]});
    app.post(SET_USAGE, token, body).await
}

async fn has_fired(app: &TestApp, uuid: &str) -> Value {
    app.get(&format!("{POLICIES}{uuid}/"), app.staff()).await.expect(200)["has_fired"].clone()
}

/// Waits (up to five seconds) for the scheduler's sweep to reset every one of `policies`; whether
/// it did.
async fn all_reset(app: &TestApp, policies: &[&str]) -> bool {
    for _ in 0..50 {
        let mut fired = false;
        for uuid in policies {
            fired |= has_fired(app, uuid).await == true;
        }
        if !fired {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

async fn events(app: &TestApp, query: &str) -> Vec<Value> {
    app.get(&format!("/api/events/?{query}"), app.staff())
        .await
        .expect(200)
        .as_array()
        .unwrap()
        .clone()
}

api_test!(
    async fn crossing_fires_in_the_same_request_and_falling_back_resets(app) {
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, 100, 1).await;
        let resource = m.resource(&app, "vm").await;
        let path = format!("{POLICIES}{uuid}/");

        assert_eq!(report(&app, m.provider_token(), &resource, json!("100")).await.expect(201), Value::Null);
        let at_limit = app.get(&path, app.staff()).await.expect(200);
        assert_eq!(at_limit["has_fired"], false, "equal to the limit is not over");

        report(&app, m.provider_token(), &resource, json!("100.01")).await.expect(201);
        let fired = app.get(&path, m.owner_token()).await.expect(200);
        assert_eq!(fired["has_fired"], true);
        let fired_at = fired["fired_datetime"].as_str().expect("fired_datetime").to_string();

        report(&app, m.provider_token(), &resource, json!(150)).await.expect(201);
        assert_eq!(app.get(&path, app.staff()).await.expect(200)["fired_datetime"], fired_at, "no second fire");
        // The same amount again moves no total: still fired, nothing re-run.
        report(&app, m.provider_token(), &resource, json!("150.00")).await.expect(201);
        assert_eq!(app.get(&path, app.staff()).await.expect(200)["has_fired"], true);

        report(&app, m.provider_token(), &resource, json!("20.5")).await.expect(201);
        let reset = app.get(&path, app.staff()).await.expect(200);
        assert_eq!(reset["has_fired"], false);
        assert_eq!(reset["fired_datetime"], fired_at, "kept on reset");

        let fired_events = events(&app, &format!("event_type=policy_fired&policy_uuid={uuid}")).await;
        assert_eq!(fired_events.len(), 1);
        let context = &fired_events[0]["context"];
        assert_eq!(context["policy_uuid"], uuid.as_str());
        assert_eq!(context["customer_uuid"], m.customer_uuid());
        assert_eq!(context["customer_name"], "Consumer Org");
        assert_eq!(
            context["exceeded"],
            json!([{"component": m.component("cpu_hours"), "type": "cpu_hours", "period": 1, "usage": "100.01", "limit": 100}])
        );
        let both = events(&app, &format!("event_type=policy_fired&event_type=policy_reset&customer_uuid={}", m.customer_uuid())).await;
        let types: Vec<&str> = both.iter().map(|e| e["event_type"].as_str().unwrap()).collect();
        assert_eq!(types, ["policy_reset", "policy_fired"]);
        let by_scope =
            events(&app, &format!("scope={}&event_type=policy_fired&event_type=policy_reset", m.customer_url())).await;
        assert_eq!(by_scope.len(), 2);
        // Filters narrow each other: a scope and another customer's uuid match nothing.
        let zeros = "0".repeat(32);
        let neither = events(&app, &format!("scope={}&customer_uuid={zeros}", m.customer_url())).await;
        assert!(neither.is_empty(), "{neither:?}");
        // The owner sees the customer's events; someone without a role sees none.
        let owners = app.get("/api/events/?event_type=policy_reset", m.owner_token()).await.expect(200);
        assert_eq!(owners.as_array().unwrap().len(), 1);
        let (_, nobody) = app.user("nobody").await;
        assert_eq!(app.get("/api/events/", &nobody).await.expect(200), json!([]));
    }
);

api_test!(
    async fn reports_replace_the_months_amount(app) {
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, 1000, 2).await;
        let resource = m.resource(&app, "vm").await;
        report(&app, m.provider_token(), &resource, json!("100")).await.expect(201);
        report(&app, m.provider_token(), &resource, json!("150")).await.expect(201);
        let rows = app.get(&format!("/api/marketplace-component-usages/?resource_uuid={resource}"), app.staff()).await;
        assert_eq!(rows.header("x-result-count").as_deref(), Some("1"));
        let row = &rows.expect(200)[0];
        assert_eq!(row["usage"], "150.00");
        assert_eq!(row["type"], "cpu_hours");
        assert_eq!(row["resource_uuid"], resource.as_str());
        assert_eq!(row["customer_uuid"], m.customer_uuid());
        let status = app.get(&format!("{POLICIES}{uuid}/status/"), app.staff()).await.expect(200);
        assert_eq!(status["limits"][0]["usage"], "150.00");

        // A second resource of the same customer adds to the total.
        let other = m.resource(&app, "vm2").await;
        report(&app, m.provider_token(), &other, json!("0.1")).await.expect(201);
        report(&app, m.provider_token(), &other, json!("0.2")).await.expect(201);
        let status = app.get(&format!("{POLICIES}{uuid}/status/"), app.staff()).await.expect(200);
        assert_eq!(status["limits"][0]["usage"], "150.20");
    }
);

api_test!(
    async fn reports_are_validated(app) {
        let m = marketplace(&app).await;
        let resource = m.resource(&app, "vm").await;
        let p = m.provider_token();
        let cases = [
            (json!({"usages": []}), json!({"non_field_errors": ["Either plan_period or resource should be provided."]})),
            (json!({"resource": "nope", "usages": []}), json!({"resource": ["Must be a valid UUID."]})),
            (
                json!({"resource": resource, "usages": [{"type": "cpu_hours", "amount": "-1"}, {"type": "cpu_hours", "amount": "1.234"}, {"amount": "x"}]}),
                json!({"usages": [
                    {"amount": ["Ensure this value is greater than or equal to 0."]},
                    {"amount": ["Ensure that there are no more than 2 decimal places."]},
                    {"type": ["This field is required."], "amount": ["A valid number is required."]}
                ]}),
            ),
            (
                json!({"resource": resource, "usages": [{"type": "base", "amount": 1}, {"type": "nope", "amount": 1}, {"type": "cpu_hours", "amount": 1}]}),
                json!({"non_field_errors": ["These components are invalid: base, nope."]}),
            ),
            (
                json!({"resource": resource, "usages": [{"type": "cpu_hours", "amount": 1}], "date": "2999-01-01T00:00:00"}),
                json!({"date": ["Cannot submit usage for future dates. Date must be current date or earlier."]}),
            ),
            (
                json!({"resource": resource, "usages": [{"type": "cpu_hours", "amount": 1}], "date": "2001-01-01T00:00:00"}),
                json!({"date": ["Service providers can only specify date for limit-based billing components when backfilling past billing periods."]}),
            ),
            (
                json!({"resource": "ab".repeat(16), "usages": [{"type": "cpu_hours", "amount": 1}]}),
                json!({"resource": [format!("Object with uuid={} does not exist.", "abababab-abab-abab-abab-abababababab")]}),
            ),
        ];
        for (body, error) in cases {
            assert_eq!(app.post(SET_USAGE, p, body.clone()).await.expect(400), error, "{body}");
        }
        // Providers may backfill limit-based components; staff anything.
        let backfill = json!({"resource": resource, "usages": [{"type": "storage_gb", "amount": 3}], "date": "2001-01-01T00:00:00"});
        app.post(SET_USAGE, p, backfill).await.expect(201);
        let staff = json!({"resource": resource, "usages": [{"type": "cpu_hours", "amount": 3}], "date": "2001-02-03"});
        app.post(SET_USAGE, app.staff(), staff).await.expect(201);
        let listed = app.get("/api/marketplace-component-usages/?billing_period_year=2001", app.staff()).await.expect(200);
        let periods: Vec<&str> = listed.as_array().unwrap().iter().map(|u| u["billing_period"].as_str().unwrap()).collect();
        assert_eq!(periods, ["2001-02-01", "2001-01-01"]);
        // The consumer, or anyone else, may not report.
        report(&app, m.owner_token(), &resource, json!(1)).await.expect(403);
        // A resource still being created does not take usage.
        let order = app.post("/api/marketplace-orders/", m.owner_token(), m.order_body("new")).await.expect(201);
        let creating = order["marketplace_resource_uuid"].as_str().unwrap();
        let err = report(&app, p, creating, json!(1)).await.expect(400);
        assert_eq!(err, json!({"resource": ["Resource is not in valid state."]}));
    }
);

api_test!(
    async fn creating_or_changing_a_policy_evaluates_it_at_once(app) {
        let m = marketplace(&app).await;
        let resource = m.resource(&app, "vm").await;
        report(&app, m.provider_token(), &resource, json!(50)).await.expect(201);
        let body = json!({
            "scope": m.customer_url(), "actions": "notify_organization_owners",
            "component_limits_set": [{"component": m.component("cpu_hours"), "limit": 10, "period": 2}]
        });
        let created = app.post(POLICIES, app.staff(), body).await.expect(201);
        assert_eq!(created["has_fired"], true);
        assert!(created["fired_datetime"].is_string());
        let path = format!("{POLICIES}{}/", created["uuid"].as_str().unwrap());
        let limits = json!([{"component": m.component("cpu_hours"), "limit": 60, "period": 2}]);
        let raised = app.patch(&path, app.staff(), json!({"component_limits_set": limits})).await.expect(200);
        assert_eq!(raised["has_fired"], false);
        assert_eq!(raised["fired_datetime"], created["fired_datetime"]);
    }
);

api_test!(
    async fn deleting_a_usage_row_re_evaluates(app) {
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, 10, 1).await;
        let resource = m.resource(&app, "vm").await;
        report(&app, m.provider_token(), &resource, json!(50)).await.expect(201);
        let path = format!("{POLICIES}{uuid}/");
        assert_eq!(app.get(&path, app.staff()).await.expect(200)["has_fired"], true);
        let rows = app.get("/api/marketplace-component-usages/", app.staff()).await.expect(200);
        let row = rows[0]["uuid"].as_str().unwrap();
        app.delete(&format!("/api/marketplace-component-usages/{row}/"), m.provider_token()).await.expect(403);
        app.delete(&format!("/api/marketplace-component-usages/{row}/"), app.staff()).await.expect(204);
        app.get(&format!("/api/marketplace-component-usages/{row}/"), app.staff()).await.expect(404);
        assert_eq!(app.get(&path, app.staff()).await.expect(200)["has_fired"], false);
    }
);

api_test!(
    async fn status_reports_headroom_per_limit(app) {
        let m = marketplace(&app).await;
        let body = json!({
            "scope": m.customer_url(), "actions": "request_pausing",
            "component_limits_set": [
                {"component": m.component("cpu_hours"), "limit": 150, "period": 3},
                {"component": m.component("storage_gb"), "limit": 0, "period": 1}
            ]
        });
        let policy = app.post(POLICIES, app.staff(), body).await.expect(201);
        let resource = m.resource(&app, "vm").await;
        report(&app, m.provider_token(), &resource, json!("150.25")).await.expect(201);
        let status = app.get(&format!("{POLICIES}{}/status/", policy["uuid"].as_str().unwrap()), m.owner_token()).await.expect(200);
        let today = chrono::Utc::now().date_naive();
        assert_eq!(status["policy_uuid"], policy["uuid"]);
        assert_eq!(status["has_fired"], true);
        assert!(status["evaluated_at"].as_str().unwrap().ends_with('Z'));
        let cpu = &status["limits"][0];
        assert_eq!(cpu["type"], "cpu_hours");
        assert_eq!(cpu["name"], "CPU hours");
        assert_eq!(cpu["measured_unit"], "hours");
        assert_eq!(cpu["period"], 3);
        assert_eq!(cpu["period_name"], "3 month");
        assert_eq!(cpu["usage"], "150.25");
        assert_eq!(cpu["limit"], 150);
        assert_eq!(cpu["remaining"], "-0.25");
        assert_eq!(cpu["percent"], json!(100.17));
        assert_eq!(cpu["over"], true);
        assert_eq!(cpu["projected_crossing_date"], today.to_string());
        let storage = &status["limits"][1];
        assert_eq!(storage["window_start"], Value::Null);
        assert_eq!(storage["usage"], "0.00");
        assert_eq!(storage["percent"], Value::Null);
        assert_eq!(storage["over"], false);
        assert_eq!(storage["projected_crossing_date"], Value::Null);
        let (_, nobody) = app.user("nobody").await;
        app.get(&format!("{POLICIES}{}/status/", policy["uuid"].as_str().unwrap()), &nobody).await.expect(404);
    }
);

api_test!(
    clock = "2026-01-31T23:59:50Z",
    async fn month_rollover_resets_a_monthly_policy_exactly_at_midnight(app) {
        let m = marketplace(&app).await;
        let monthly = policy(&app, &m, 10, 2).await;
        let quarterly = policy(&app, &m, 10, 3).await;
        let resource = m.resource(&app, "vm").await;
        report(&app, m.provider_token(), &resource, json!(50)).await.expect(201);
        for uuid in [&monthly, &quarterly] {
            assert_eq!(has_fired(&app, uuid).await, true);
        }
        let status = app.get(&format!("{POLICIES}{monthly}/status/"), app.staff()).await.expect(200);
        assert_eq!(status["limits"][0]["window_start"], "2026-01-01");
        assert_eq!(status["limits"][0]["window_end"], "2026-01-31");

        app.clock.advance(chrono::Duration::seconds(9));
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(has_fired(&app, &monthly).await, true);

        app.clock.advance(chrono::Duration::seconds(1));
        assert!(all_reset(&app, &[&monthly]).await, "the monthly policy resets at 2026-02-01T00:00:00Z");
        // The quarterly window still holds January.
        assert_eq!(has_fired(&app, &quarterly).await, true);
        let status = app.get(&format!("{POLICIES}{quarterly}/status/"), app.staff()).await.expect(200);
        assert_eq!(status["limits"][0]["window_start"], "2025-12-01");
        assert_eq!(status["limits"][0]["usage"], "50.00");
        let resets = events(&app, &format!("event_type=policy_reset&policy_uuid={monthly}")).await;
        assert_eq!(resets.len(), 1);
        assert_eq!(resets[0]["created"], "2026-02-01T00:00:00.000000Z");
    }
);

api_test!(
    clock = "2026-01-15T12:00:00Z",
    async fn backfilled_months_count_only_in_the_windows_they_fall_in(app) {
        let m = marketplace(&app).await;
        let quarterly = policy(&app, &m, 100, 3).await;
        let yearly = policy(&app, &m, 100, 4).await;
        let resource = m.resource(&app, "vm").await;
        let backfill = |date: &str, amount: i64| {
            json!({"resource": resource, "date": date, "usages": [{"type": "cpu_hours", "amount": amount}]})
        };
        // January 2025 is before both windows (Nov-Jan and Feb 2025-Jan 2026).
        app.post(SET_USAGE, app.staff(), backfill("2025-01-20T00:00:00Z", 500)).await.expect(201);
        assert_eq!(has_fired(&app, &quarterly).await, false);
        assert_eq!(has_fired(&app, &yearly).await, false);
        // October is in the yearly window only, November in both.
        app.post(SET_USAGE, app.staff(), backfill("2025-10-20T00:00:00Z", 50)).await.expect(201);
        app.post(SET_USAGE, app.staff(), backfill("2025-11-20T00:00:00Z", 60)).await.expect(201);
        assert_eq!(has_fired(&app, &quarterly).await, false, "60 in Nov-Jan");
        assert_eq!(has_fired(&app, &yearly).await, true, "110 since February 2025");
        let status = app.get(&format!("{POLICIES}{yearly}/status/"), app.staff()).await.expect(200);
        assert_eq!(status["limits"][0]["usage"], "110.00");
        // A Total limit counts every month, January 2025 included: 610 over 600.
        let body = json!({
            "scope": m.customer_url(), "actions": "notify_organization_owners",
            "component_limits_set": [{"component": m.component("cpu_hours"), "limit": 600, "period": 1}]
        });
        assert_eq!(app.post(POLICIES, app.staff(), body).await.expect(201)["has_fired"], true);
        // With the Total policy among the customer's, a report still judges the others by their windows.
        app.post(SET_USAGE, app.staff(), backfill("2026-01-10T00:00:00Z", 45)).await.expect(201);
        assert_eq!(has_fired(&app, &quarterly).await, true, "105 in Nov-Jan");
        let status = app.get(&format!("{POLICIES}{quarterly}/status/"), app.staff()).await.expect(200);
        assert_eq!(status["limits"][0]["usage"], "105.00");
    }
);

api_test!(
    async fn a_negative_limit_is_accepted_and_over_at_zero_usage(app) {
        let m = marketplace(&app).await;
        let body = json!({
            "scope": m.customer_url(), "actions": "notify_organization_owners",
            "component_limits_set": [{"component": m.component("storage_gb"), "limit": -1, "period": 1}]
        });
        let created = app.post(POLICIES, app.staff(), body).await.expect(201);
        assert_eq!(created["component_limits_set"][0]["limit"], -1);
        assert_eq!(created["has_fired"], true);
    }
);

api_test!(
    async fn concurrent_reports_commit_or_fail_each_on_their_own(app) {
        // On SQLite, reports that arrive together share one transaction (group commit): a refused
        // report must neither spoil the others nor leave anything behind.
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, 1000, 2).await;
        let mut resources = Vec::new();
        for name in ["a", "b", "c", "d"] {
            resources.push(m.resource(&app, name).await);
        }
        let p = m.provider_token();
        let unknown = |r: &str| json!({"resource": r, "usages": [{"type": "gpu_magic", "amount": "5"}]});
        let future = |r: &str| {
            json!({"resource": r, "date": "2999-01-01T00:00:00Z", "usages": [{"type": "cpu_hours", "amount": "5"}]})
        };
        let (a, b, c, d, e, f, g, h) = tokio::join!(
            report(&app, p, &resources[0], json!("1.25")),
            app.post(SET_USAGE, p, unknown(&resources[1])),
            report(&app, p, &resources[1], json!("2.50")),
            app.post(SET_USAGE, p, future(&resources[2])),
            report(&app, p, &resources[2], json!("3.75")),
            app.post(SET_USAGE, p, unknown(&resources[3])),
            report(&app, p, &resources[3], json!("4")),
            app.post(SET_USAGE, p, future(&resources[0])),
        );
        for ok in [a, c, e, g] {
            ok.expect(201);
        }
        for refused in [b, f] {
            assert_eq!(refused.expect(400), json!({"non_field_errors": ["These components are invalid: gpu_magic."]}));
        }
        for refused in [d, h] {
            let body = refused.expect(400);
            assert!(body["date"][0].as_str().unwrap().starts_with("Cannot submit usage for future dates"));
        }
        let rows = app.get("/api/marketplace-component-usages/", app.staff()).await;
        assert_eq!(rows.header("x-result-count").as_deref(), Some("4"));
        let status = app.get(&format!("{POLICIES}{uuid}/status/"), app.staff()).await.expect(200);
        assert_eq!(status["limits"][0]["usage"], "11.50");
    }
);

api_test!(
    async fn reports_that_arrive_together_are_judged_one_after_another(app) {
        // Reports that queue together are committed together (group commit), one statement per
        // step for all of them; each must still be judged on the totals right after it, and a
        // month's amount reported twice in one batch must still replace, not add.
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, 100, 1).await;
        let (swinging, steady) = (m.resource(&app, "swinging").await, m.resource(&app, "steady").await);
        let mut sent = tokio::task::JoinSet::new();
        for i in 0..24 {
            let (resource, amount) = match i % 3 {
                0 => (&swinging, "150"),
                1 => (&swinging, "50"),
                _ => (&steady, "1"),
            };
            let body = json!({"resource": resource, "usages": [{"type": "cpu_hours", "amount": amount}]});
            let request = app
                .http
                .post(app.url(SET_USAGE))
                .header("Authorization", format!("Token {}", m.provider_token()))
                .json(&body);
            sent.spawn(async move { request.send().await.map(|r| r.status().as_u16()) });
        }
        while let Some(status) = sent.join_next().await {
            assert_eq!(status.unwrap().unwrap(), 201);
        }
        let rows = app
            .get(&format!("/api/marketplace-component-usages/?resource_uuid={swinging}"), app.staff())
            .await
            .expect(200);
        let last: f64 = rows[0]["usage"].as_str().unwrap().parse().unwrap();
        assert!(last == 150.0 || last == 50.0, "one of the amounts reported: {last}");
        let status = app.get(&format!("{POLICIES}{uuid}/status/"), app.staff()).await.expect(200);
        let total: f64 = status["limits"][0]["usage"].as_str().unwrap().parse().unwrap();
        assert_eq!(total, last + 1.0, "the latest amounts, each counted once");
        assert_eq!(status["has_fired"], last + 1.0 > 100.0);

        // Every transition made, oldest first: fires and resets alternate, from a fire, and the
        // last one is the policy's state.
        let query = format!("event_type=policy_fired&event_type=policy_reset&policy_uuid={uuid}&page_size=100");
        let mut made = events(&app, &query).await;
        made.reverse();
        assert!(!made.is_empty(), "the swinging amounts cross the limit");
        for (i, event) in made.iter().enumerate() {
            let expected = if i % 2 == 0 { "policy_fired" } else { "policy_reset" };
            assert_eq!(event["event_type"], expected, "transition {i} of {}", made.len());
        }
        assert_eq!(made.len() % 2 == 1, last + 1.0 > 100.0);
    }
);

api_test!(
    async fn deletions_and_reports_of_one_customer_sent_together_all_commit(app) {
        // A deletion and a report batch both write a usage row and its customer's totals: both
        // take the customer's lock first (docs/evaluation.md §5.1), so neither waits on the other
        // in a cycle. A cycle would end one of them with a deadlock error (500).
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, 1000, 1).await;
        let mut resources = Vec::new();
        for name in ["a", "b", "c", "d"] {
            let resource = m.resource(&app, name).await;
            report(&app, m.provider_token(), &resource, json!("1")).await.expect(201);
            resources.push(resource);
        }
        for round in 0..6 {
            let rows = app.get(USAGES, app.staff()).await.expect(200);
            let mut requests = Vec::new();
            for row in rows.as_array().expect("rows") {
                let path = format!("{USAGES}{}/", row["uuid"].as_str().expect("uuid"));
                requests.push((Method::DELETE, path, app.staff().to_string(), Value::Null));
            }
            for resource in &resources {
                let body = json!({"resource": resource, "usages": [{"type": "cpu_hours", "amount": round + 2}]});
                requests.push((Method::POST, SET_USAGE.to_string(), app.staff().to_string(), body));
            }
            for (i, (status, body)) in app.together(requests).await.into_iter().enumerate() {
                assert!(status == 201 || status == 204, "round {round}, request {i}: {status} {body}");
            }
        }
        // The totals hold exactly the rows that are left.
        let rows = app.get(USAGES, app.staff()).await.expect(200);
        let left: f64 = rows
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| r["usage"].as_str().expect("usage").parse::<f64>().expect("a number"))
            .sum();
        let status = app.get(&format!("{POLICIES}{uuid}/status/"), app.staff()).await.expect(200);
        let total: f64 = status["limits"][0]["usage"].as_str().expect("usage").parse().expect("a number");
        assert_eq!(total, left);
    }
);

api_test!(
    async fn metrics_count_reports_and_time_their_batches(app) {
        let m = marketplace(&app).await;
        policy(&app, &m, 100, 1).await;
        let resource = m.resource(&app, "vm").await;
        report(&app, m.provider_token(), &resource, json!("150")).await.expect(201);
        let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        for name in [
            "meterguard_usage_reports_total",
            "meterguard_report_batch_size_bucket",
            "meterguard_report_batch_duration_seconds_bucket",
            "meterguard_transitions_total{direction=\"fire\"}",
        ] {
            assert!(text.lines().any(|l| l.starts_with(name)), "{name} missing from\n{text}");
        }
    }
);

api_test!(
    clock = "2026-01-31T23:59:50Z",
    async fn a_month_boundary_resets_many_customers_policies_once_each(app) {
        // 3 customers with 55 policies each: more than one sweep transaction, which run side by
        // side on PostgreSQL.
        let m = marketplace(&app).await;
        let mut policies = Vec::new();
        for n in 0..3 {
            let customer = app.customer(&format!("Lab {n}")).await;
            let project = app.project(customer["url"].as_str().unwrap(), "Runs").await;
            let resource = m.resource_in(&app, &project["url"], app.staff(), "vm").await;
            for _ in 0..55 {
                let body = json!({
                    "scope": customer["url"], "actions": "notify_organization_owners",
                    "component_limits_set": [{"component": m.component("cpu_hours"), "limit": 10, "period": 2}]
                });
                policies.push(app.post(POLICIES, app.staff(), body).await.expect(201)["uuid"].as_str().unwrap().to_string());
            }
            report(&app, m.provider_token(), &resource, json!(50)).await.expect(201);
        }
        let fired = events(&app, "event_type=policy_fired&page_size=300").await;
        assert_eq!(fired.len(), policies.len());

        app.clock.advance(chrono::Duration::seconds(10));
        let mut resets = Vec::new();
        for _ in 0..100 {
            resets = events(&app, "event_type=policy_reset&page_size=300").await;
            if resets.len() >= policies.len() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let mut reset: Vec<&str> = resets.iter().map(|e| e["context"]["policy_uuid"].as_str().unwrap()).collect();
        reset.sort_unstable();
        let mut expected: Vec<&str> = policies.iter().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(reset, expected, "each policy resets once");
        for uuid in &policies {
            assert_eq!(has_fired(&app, uuid).await, false);
        }
    }
);

api_test!(
    async fn usage_rows_are_retrieved_and_filtered_as_upstream_does(app) {
        let m = marketplace(&app).await;
        let mine = m.resource(&app, "mine").await;
        let other = app.customer("Other Org").await;
        let other_project = app.project(other["url"].as_str().unwrap(), "Elsewhere").await;
        let theirs = m.resource_in(&app, &other_project["url"], app.staff(), "theirs").await;
        // A manager of the provider (not only its owner) reports.
        let (manager_uuid, manager) = app.user("provider-manager").await;
        let provider = m.offering["customer_uuid"].as_str().unwrap();
        app.grant("customers", provider, &manager_uuid, "CUSTOMER.MANAGER").await;
        let body = json!({"resource": mine, "usages": [{"type": "cpu_hours", "amount": 5}, {"type": "storage_gb", "amount": 3}]});
        app.post(SET_USAGE, &manager, body).await.expect(201);
        let backfill = json!({"resource": theirs, "usages": [{"type": "cpu_hours", "amount": "1.25"}], "date": "2001-02-03T10:00:00Z"});
        app.post(SET_USAGE, app.staff(), backfill).await.expect(201);

        let usages = "/api/marketplace-component-usages/";
        let rows = |query: String| {
            let app = &app;
            async move {
                let rows = app.get(&format!("{usages}?{query}"), app.staff()).await.expect(200);
                let mut seen: Vec<String> = rows
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| format!("{}:{}", u["resource_name"].as_str().unwrap(), u["type"].as_str().unwrap()))
                    .collect();
                seen.sort();
                seen
            }
        };
        assert_eq!(rows(String::new()).await, ["mine:cpu_hours", "mine:storage_gb", "theirs:cpu_hours"]);
        assert_eq!(rows(format!("customer_uuid={}", other["uuid"].as_str().unwrap())).await, ["theirs:cpu_hours"]);
        assert_eq!(rows(format!("project_uuid={}", m.project["uuid"].as_str().unwrap())).await.len(), 2);
        assert_eq!(rows(format!("offering_uuid={}", m.offering["uuid"].as_str().unwrap())).await.len(), 3);
        assert_eq!(rows("type=storage_gb".into()).await, ["mine:storage_gb"]);
        assert_eq!(rows("billing_period=2001-02-01".into()).await, ["theirs:cpu_hours"]);
        assert_eq!(rows("billing_period_year=2001&billing_period_month=2".into()).await, ["theirs:cpu_hours"]);
        assert!(rows("billing_period_year=2001&billing_period_month=3".into()).await.is_empty());
        assert_eq!(rows("date_before=2001-02-03".into()).await, ["theirs:cpu_hours"]);
        assert!(rows("date_before=2001-02-02".into()).await.is_empty());
        assert_eq!(rows("date_after=2001-02-04".into()).await.len(), 2);
        assert_eq!(rows(format!("resource={}", app.url(&format!("/api/marketplace-resources/{theirs}/")))).await, ["theirs:cpu_hours"]);
        assert_eq!(app.get(&format!("{usages}?customer_uuid=nope"), app.staff()).await.expect(400), json!({"customer_uuid": ["Enter a valid UUID."]}));

        // One row, whole, as the owner of the consuming customer sees it.
        let listed = app.get(&format!("{usages}?resource_uuid={mine}&type=cpu_hours"), m.owner_token()).await.expect(200);
        let uuid = listed[0]["uuid"].as_str().unwrap();
        let row = app.get(&format!("{usages}{uuid}/"), m.owner_token()).await.expect(200);
        assert_eq!(row, listed[0]);
        assert_eq!(row["usage"], "5.00");
        assert_eq!(row["resource_uuid"], mine.as_str());
        assert_eq!(row["customer_uuid"], m.customer_uuid());
        assert_eq!(row["project_uuid"], m.project["uuid"]);
        assert_eq!(row["offering_uuid"], m.offering["uuid"]);
        assert_eq!(row["name"], "CPU hours");
        assert!(row["modified_by"].is_i64(), "modified_by is the user's id, an integer: {row}");
        // The other customer's row is not the owner's to see.
        let theirs_row = app.get(&format!("{usages}?resource_uuid={theirs}"), app.staff()).await.expect(200);
        let theirs_uuid = theirs_row[0]["uuid"].as_str().unwrap();
        app.get(&format!("{usages}{theirs_uuid}/"), m.owner_token()).await.expect(404);
    }
);

api_test!(
    clock = "2026-12-31T23:59:55Z",
    async fn windows_move_across_the_year_boundary(app) {
        let m = marketplace(&app).await;
        let monthly = policy(&app, &m, 10, 2).await;
        let quarterly = policy(&app, &m, 10, 3).await;
        let yearly = policy(&app, &m, 60, 4).await;
        let resource = m.resource(&app, "vm").await;
        report(&app, m.provider_token(), &resource, json!(50)).await.expect(201);
        // January 2026 is in the 12-month window until the year turns.
        let january = json!({"resource": resource, "usages": [{"type": "cpu_hours", "amount": 20}], "date": "2026-01-05T00:00:00Z"});
        app.post(SET_USAGE, app.staff(), january).await.expect(201);
        for uuid in [&monthly, &quarterly, &yearly] {
            assert_eq!(has_fired(&app, uuid).await, true);
        }

        app.clock.advance(chrono::Duration::seconds(5));
        assert!(
            all_reset(&app, &[&monthly, &yearly]).await,
            "at 2027-01-01T00:00:00Z the monthly and the 12-month policies reset"
        );
        assert_eq!(has_fired(&app, &quarterly).await, true, "November to January still holds December");
        let window = |uuid: String| {
            let app = &app;
            async move {
                let status = app.get(&format!("{POLICIES}{uuid}/status/"), app.staff()).await.expect(200);
                let row = &status["limits"][0];
                (row["window_start"].clone(), row["window_end"].clone(), row["usage"].clone())
            }
        };
        assert_eq!(window(monthly.clone()).await, (json!("2027-01-01"), json!("2027-01-31"), json!("0.00")));
        assert_eq!(window(quarterly.clone()).await, (json!("2026-11-01"), json!("2027-01-31"), json!("50.00")));
        assert_eq!(window(yearly.clone()).await, (json!("2026-02-01"), json!("2027-01-31"), json!("50.00")));
    }
);

api_test!(
    clock = "2026-03-10T12:00:00Z",
    async fn status_projects_the_crossing_at_this_months_pace(app) {
        let m = marketplace(&app).await;
        let cpu = m.component("cpu_hours");
        let body = json!({
            "scope": m.customer_url(), "actions": "notify_organization_owners",
            "component_limits_set": [
                {"component": cpu, "limit": 100, "period": 2},
                {"component": cpu, "limit": 200, "period": 1},
                {"component": cpu, "limit": 200, "period": 3}
            ]
        });
        let policy = app.post(POLICIES, app.staff(), body).await.expect(201);
        let resource = m.resource(&app, "vm").await;
        // 40 in the ten days of March so far (today counted): 4 a day.
        report(&app, m.provider_token(), &resource, json!(40)).await.expect(201);
        let status = app.get(&format!("{POLICIES}{}/status/", policy["uuid"].as_str().unwrap()), app.staff()).await.expect(200);
        let projected: Vec<Value> = status["limits"].as_array().unwrap().iter().map(|l| l["projected_crossing_date"].clone()).collect();
        // 40 + 4 × 16 = 104 > 100 on the 26th; 40 + 4 × 41 = 204 > 200 on 20 April, inside a Total
        // window, and after the quarter's end on March 31.
        assert_eq!(projected, [json!("2026-03-26"), json!("2026-04-20"), Value::Null]);
        assert_eq!(status["has_fired"], false);
    }
);

api_test!(
    async fn removing_a_component_re_evaluates_the_policies_that_limited_it(app) {
        let m = marketplace(&app).await;
        let body = json!({
            "scope": m.customer_url(), "actions": "request_pausing",
            "component_limits_set": [
                {"component": m.component("cpu_hours"), "limit": 10, "period": 1},
                {"component": m.component("storage_gb"), "limit": 100, "period": 1}
            ]
        });
        let policy = app.post(POLICIES, app.staff(), body).await.expect(201)["uuid"].as_str().unwrap().to_string();
        let resource = m.resource(&app, "vm").await;
        report(&app, m.provider_token(), &resource, json!(50)).await.expect(201);
        assert_eq!(has_fired(&app, &policy).await, true);
        let resource_path = format!("/api/marketplace-resources/{resource}/");
        assert_eq!(app.get(&resource_path, m.owner_token()).await.expect(200)["paused"], true);

        let offering = m.offering["uuid"].as_str().unwrap();
        let remove = format!("/api/marketplace-provider-offerings/{offering}/remove_offering_component/");
        app.post(&remove, app.staff(), json!({"uuid": m.component("cpu_hours")})).await.expect(200);
        // Only storage is left, and it is under its limit: the policy resets and undoes the pause.
        assert_eq!(has_fired(&app, &policy).await, false);
        let status = app.get(&format!("{POLICIES}{policy}/status/"), app.staff()).await.expect(200);
        let types: Vec<&str> = status["limits"].as_array().unwrap().iter().map(|l| l["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["storage_gb"]);
        assert_eq!(app.get(&resource_path, m.owner_token()).await.expect(200)["paused"], false);
        assert_eq!(events(&app, &format!("event_type=policy_reset&policy_uuid={policy}")).await.len(), 1);

        // An offering with resources stays.
        let err = app.delete(&format!("/api/marketplace-provider-offerings/{offering}/"), app.staff()).await.expect(409);
        assert_eq!(err, json!({"detail": "Offering has resources and cannot be deleted."}));
        app.get(&format!("/api/marketplace-provider-offerings/{offering}/"), app.staff()).await.expect(200);
    }
);

api_test!(
    async fn deleting_a_provider_re_evaluates_the_policies_on_its_components(app) {
        let m = marketplace(&app).await;
        // Over at zero usage: fired as soon as it is made.
        let fired = policy(&app, &m, -1, 1).await;
        assert_eq!(has_fired(&app, &fired).await, true);
        let provider = m.offering["customer_uuid"].as_str().unwrap();
        app.delete(&format!("/api/customers/{provider}/"), app.staff()).await.expect(204);
        // Its only limit went with the provider's offering: under every limit left, it resets.
        assert_eq!(has_fired(&app, &fired).await, false);
        let status = app.get(&format!("{POLICIES}{fired}/status/"), app.staff()).await.expect(200);
        assert_eq!(status["limits"], json!([]));
    }
);
