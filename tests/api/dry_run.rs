//! Dry runs: docs/dry-run.md.

use crate::api_test;
use crate::fixtures::{marketplace, Marketplace};
use crate::helpers::TestApp;
use chrono::Duration;
use serde_json::{json, Value};
use sqlx::{AnyConnection, Connection};

const POLICIES: &str = "/api/marketplace-customer-component-usage-policies/";
const DRY_RUN: &str = "/api/marketplace-customer-component-usage-policies/dry_run/";
const SET_USAGE: &str = "/api/marketplace-component-usages/set_usage/";

fn cpu_body(m: &Marketplace, actions: &str, limit: i64) -> Value {
    json!({
        "scope": m.customer_url(), "actions": actions,
        "component_limits_set": [{"component": m.component("cpu_hours"), "limit": limit, "period": 2}]
    })
}

fn policy_dry_run(uuid: &str) -> String {
    format!("{POLICIES}{uuid}/dry_run/")
}

/// Reports as staff, a minute after the previous step.
async fn usage(app: &TestApp, resource: &str, amount: &str) -> String {
    app.clock.advance(Duration::minutes(1));
    let body = json!({"resource": resource, "usages": [{"type": "cpu_hours", "amount": amount}]});
    app.post(SET_USAGE, app.staff(), body).await.expect(201);
    now(app)
}

fn now(app: &TestApp) -> String {
    app.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Each step of a timeline as (transition, at, threshold).
fn steps(run: &Value) -> Vec<(String, String, Value)> {
    run["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|s| {
            (
                s["transition"].as_str().expect("transition").to_string(),
                s["at"].as_str().expect("at").to_string(),
                s["threshold"].clone(),
            )
        })
        .collect()
}

/// The times of the policy's events of `event_type`, oldest first.
async fn event_times(app: &TestApp, uuid: &str, event_type: &str) -> Vec<String> {
    let events = app
        .get(
            &format!("/api/events/?policy_uuid={uuid}&event_type={event_type}"),
            app.staff(),
        )
        .await
        .expect(200);
    let mut times: Vec<String> = events
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["created"].as_str().expect("created").to_string())
        .collect();
    times.reverse();
    times
}

/// The number of rows in every table of the app's database.
async fn row_counts(app: &TestApp) -> Vec<(String, i64)> {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(&app.database_url).await.expect("database");
    let tables_sql = if app.database_url.starts_with("sqlite") {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    } else {
        "SELECT CAST(tablename AS TEXT) FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    };
    let tables: Vec<String> = sqlx::query_scalar(tables_sql)
        .fetch_all(&mut conn)
        .await
        .expect("tables");
    let mut counts = Vec::new();
    for table in tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut conn)
            .await
            .expect("count");
        counts.push((table, n));
    }
    counts
}

api_test!(
    clock = "2026-06-15T12:00:00Z",
    async fn bodies_are_refused_as_create_refuses_them_and_since_is_checked(app) {
        let m = marketplace(&app).await;
        let uuid = m.cpu_policy(&app, "notify_organization_owners", 100, 2).await;
        for body in [
            json!({}),
            json!({"scope": m.customer_url(), "actions": "no_such_action", "component_limits_set": [{"limit": "x"}]}),
            json!({"scope": format!("{}/api/customers/{}/", app.address, "0".repeat(32)), "actions": "", "component_limits_set": []}),
            json!({"scope": m.customer_url(), "actions": "notify_organization_owners",
                   "component_limits_set": [{"component": "0".repeat(32), "limit": 1}]}),
            json!({"scope": m.customer_url(), "actions": "notify_organization_owners", "warning_thresholds": [120]}),
        ] {
            let created = app.post(POLICIES, app.staff(), body.clone()).await.expect(400);
            assert_eq!(app.post(DRY_RUN, app.staff(), body).await.expect(400), created);
        }
        let patch = json!({"reset_below_percent": 0, "component_limits_set": "x"});
        let patched = app.patch(&format!("{POLICIES}{uuid}/"), app.staff(), patch.clone()).await.expect(400);
        assert_eq!(app.post(&policy_dry_run(&uuid), app.staff(), patch).await.expect(400), patched);

        let valid = cpu_body(&m, "notify_organization_owners", 100);
        let with_since = |since: Value| {
            let mut body = valid.clone();
            body["since"] = since;
            body
        };
        for (since, message) in [
            (json!("2026-13"), "Month has wrong format. Use one of these formats instead: YYYY-MM."),
            (json!("2026-06-01"), "Month has wrong format. Use one of these formats instead: YYYY-MM."),
            (json!(202606), "Month has wrong format. Use one of these formats instead: YYYY-MM."),
            (json!(null), "This field may not be null."),
            (json!("2026-07"), "Ensure this month is not after the current month."),
            (json!("2023-05"), "Ensure this month is no more than 36 months before the current month."),
        ] {
            let refused = app.post(DRY_RUN, app.staff(), with_since(since.clone())).await.expect(400);
            assert_eq!(refused, json!({"since": [message]}), "{since}");
            let refused = app.post(&policy_dry_run(&uuid), app.staff(), json!({"since": since})).await.expect(400);
            assert_eq!(refused, json!({"since": [message]}));
        }
        // With other errors, `since` is one more field.
        let both = app.post(DRY_RUN, app.staff(), json!({"actions": "notify_organization_owners", "since": "x"})).await.expect(400);
        assert_eq!(both["since"], json!(["Month has wrong format. Use one of these formats instead: YYYY-MM."]));
        assert_eq!(both["scope"], json!(["This field is required."]));
        for since in ["2023-06", "2026-06"] {
            app.post(DRY_RUN, app.staff(), with_since(json!(since))).await.expect(200);
        }
    }
);

api_test!(
    async fn only_staff_may_dry_run_and_an_unknown_policy_is_not_found(app) {
        let m = marketplace(&app).await;
        let uuid = m.cpu_policy(&app, "notify_organization_owners", 100, 2).await;
        let valid = cpu_body(&m, "notify_organization_owners", 100);
        let unknown = "0".repeat(32);
        for path in [DRY_RUN.to_string(), policy_dry_run(&uuid), policy_dry_run(&unknown)] {
            let refused = app.post(&path, m.owner_token(), valid.clone()).await.expect(403);
            assert_eq!(refused, json!({"detail": "You do not have permission to perform this action."}));
        }
        let missing = app.post(&policy_dry_run(&unknown), app.staff(), json!({})).await.expect(404);
        assert_eq!(missing, json!({"detail": "No CustomerComponentUsagePolicy matches the given query."}));
        app.post(&policy_dry_run("not-a-uuid"), app.staff(), json!({})).await.expect(404);

        let schema = app.get("/api/schema/", app.staff()).await.expect(200);
        for path in [DRY_RUN.to_string(), policy_dry_run("{uuid}")] {
            let operation = &schema["paths"][&path]["post"];
            assert!(operation["responses"]["200"].is_object(), "{path}");
            assert!(operation["responses"]["403"].is_object(), "{path}");
        }
    }
);

api_test!(
    clock = "2026-06-10T08:00:00Z",
    async fn a_dry_run_writes_nothing(app) {
        let m = marketplace(&app).await;
        let resource = m.resource(&app, "busy").await;
        let uuid = m.cpu_policy(&app, "notify_organization_owners", 1000, 2).await;
        usage(&app, &resource, "150").await;
        let counts = row_counts(&app).await;
        let policy = app.get(&format!("{POLICIES}{uuid}/"), app.staff()).await.expect(200);
        assert!(counts.iter().any(|(table, n)| table == "usage_report_log" && *n == 1), "{counts:?}");

        // Every action, thresholds, a limit it is far over: a save would fire, warn, email and
        // terminate.
        let actions = "notify_organization_owners,notify_external_user,terminate_resources,request_pausing";
        let mut body = cpu_body(&m, actions, 10);
        body["options"] = json!({"notify_external_user": "ops@example.org"});
        body["warning_thresholds"] = json!([50]);
        let run = app.post(DRY_RUN, app.staff(), body.clone()).await.expect(200);
        assert_eq!(run["would_fire_now"], true);
        assert_eq!((run["fires"].clone(), run["warnings"].clone()), (json!(1), json!(1)));
        assert_eq!(run["affected_resources"], json!([resource]));
        let run = app.post(&policy_dry_run(&uuid), app.staff(), body).await.expect(200);
        assert_eq!(run["would_fire_now"], true);

        assert_eq!(row_counts(&app).await, counts);
        assert_eq!(app.get(&format!("{POLICIES}{uuid}/"), app.staff()).await.expect(200), policy);
        let resource = app.get(&format!("/api/marketplace-resources/{resource}/"), app.staff()).await.expect(200);
        assert_eq!((resource["state"].clone(), resource["paused"].clone()), (json!("OK"), json!(false)));
    }
);

api_test!(
    clock = "2026-06-10T08:00:00Z",
    async fn a_dry_run_of_a_policy_replays_its_fire_and_reset_at_their_times(app) {
        let m = marketplace(&app).await;
        let first = m.resource(&app, "first").await;
        let second = m.resource(&app, "second").await;
        let uuid = m.cpu_policy(&app, "notify_organization_owners", 100, 2).await;
        usage(&app, &first, "60").await;
        usage(&app, &second, "30").await;
        let over = usage(&app, &first, "80").await;
        usage(&app, &second, "40").await;
        let under = usage(&app, &second, "10").await;

        let fired = event_times(&app, &uuid, "policy_fired").await;
        let reset = event_times(&app, &uuid, "policy_reset").await;
        assert_eq!((fired.clone(), reset.clone()), (vec![over.clone()], vec![under.clone()]));
        let policy = app.get(&format!("{POLICIES}{uuid}/"), app.staff()).await.expect(200);
        assert_eq!(policy["fired_datetime"], over.as_str());

        let replayed = app.post(&policy_dry_run(&uuid), app.staff(), json!({})).await.expect(200);
        assert_eq!(
            steps(&replayed),
            [
                ("fire".to_string(), fired[0].clone(), Value::Null),
                ("reset".to_string(), reset[0].clone(), Value::Null)
            ]
        );
        assert_eq!((replayed["fires"].clone(), replayed["resets"].clone()), (json!(1), json!(1)));
        assert_eq!(replayed["would_fire_now"], false);
        let fire = &replayed["timeline"][0];
        assert_eq!(
            fire["cause"],
            json!({"report": {"resource": first, "type": "cpu_hours", "amount": "80.00", "month": "2026-06"}})
        );
        assert_eq!(
            fire["exceeded"],
            json!([{"component": m.component("cpu_hours"), "type": "cpu_hours", "period": 2, "usage": "110.00", "limit": 100}])
        );
        assert_eq!(replayed["timeline"][1]["exceeded"], json!([]));
        let status = app.get(&format!("{POLICIES}{uuid}/status/"), app.staff()).await.expect(200);
        assert_eq!(replayed["limits"], status["limits"]);
        assert_eq!(replayed["evaluated_at"], now(&app).as_str());

        // The same policy proposed anew replays the same.
        let anew = app
            .post(DRY_RUN, app.staff(), cpu_body(&m, "notify_organization_owners", 100))
            .await
            .expect(200);
        assert_eq!(anew["timeline"], replayed["timeline"]);
    }
);

api_test!(
    clock = "2026-06-10T08:00:00Z",
    async fn a_lower_limit_fires_earlier_and_thresholds_warn_before(app) {
        let m = marketplace(&app).await;
        let resource = m.resource(&app, "climbing").await;
        let uuid = m.cpu_policy(&app, "notify_organization_owners", 100, 2).await;
        let sixty = usage(&app, &resource, "60").await;
        let ninety = usage(&app, &resource, "90").await;
        let over = usage(&app, &resource, "120").await;

        let as_is = app.post(&policy_dry_run(&uuid), app.staff(), json!({})).await.expect(200);
        assert_eq!(steps(&as_is), [("fire".to_string(), over.clone(), Value::Null)]);
        assert_eq!(as_is["would_fire_now"], true);

        let lower = app
            .post(&policy_dry_run(&uuid), app.staff(), json!({"component_limits_set": [
                {"component": m.component("cpu_hours"), "limit": 80, "period": 2}
            ]}))
            .await
            .expect(200);
        assert_eq!(steps(&lower), [("fire".to_string(), ninety.clone(), Value::Null)]);
        assert_eq!(lower["limits"][0]["limit"], 80);

        let warned = app
            .post(&policy_dry_run(&uuid), app.staff(), json!({"warning_thresholds": [80, 50]}))
            .await
            .expect(200);
        assert_eq!(
            steps(&warned),
            [
                ("warning".to_string(), sixty, json!(50)),
                ("warning".to_string(), ninety, json!(80)),
                ("fire".to_string(), over, Value::Null)
            ]
        );
        assert_eq!((warned["warnings"].clone(), warned["fires"].clone()), (json!(2), json!(1)));
        assert_eq!(warned["timeline"][0]["exceeded"][0]["usage"], "60.00");

        // A reset percentage the current usage is not under keeps a fired policy fired; one it
        // is under resets it, so it would not be fired once saved.
        let higher = |limit: i64, percent: i64| {
            json!({"component_limits_set": [{"component": m.component("cpu_hours"), "limit": limit, "period": 2}],
                   "reset_below_percent": percent})
        };
        let kept = app.post(&policy_dry_run(&uuid), app.staff(), higher(125, 90)).await.expect(200);
        assert_eq!(kept["would_fire_now"], true);
        let released = app.post(&policy_dry_run(&uuid), app.staff(), higher(200, 90)).await.expect(200);
        assert_eq!(released["would_fire_now"], false);
    }
);
