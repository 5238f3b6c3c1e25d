//! Hostile inputs: faults. A panic or an error injected into the report writer, the scheduler's
//! sweep, the delivery worker or a handler (through `TestApp::faults`, which no client can reach)
//! fails at most the work it hit: the task is restarted and counted in
//! `meterguard_task_restarts_total`, and the next report, sweep or delivery works and still
//! enforces. This is what finding 1 broke: one panic in the writer made every later report of
//! every customer answer 500 until the process restarted.

use crate::api_test;
use crate::fixtures::{marketplace, Marketplace};
use crate::helpers::{spawn_app_at_with, spawn_app_with, TestApp};
use crate::sinks::{eventually, WebhookSink};
use meterguard::faults::{Fault, Site};
use reqwest::Method;
use serde_json::{json, Value};

const POLICIES: &str = "/api/marketplace-customer-component-usage-policies/";
const SET_USAGE: &str = "/api/marketplace-component-usages/set_usage/";

/// A policy on the consumer with one `cpu_hours` limit of `limit` over `period`, pausing the
/// customer's resources when it fires.
async fn policy(app: &TestApp, m: &Marketplace, limit: i64, period: i64) -> String {
    m.cpu_policy(app, "request_pausing", limit, period).await
}

fn report(resource: &str, amount: &str) -> Value {
    json!({"resource": resource, "usages": [{"type": "cpu_hours", "amount": amount}]})
}

async fn has_fired(app: &TestApp, policy: &str) -> bool {
    let body = app.get(&format!("{POLICIES}{policy}/"), app.staff()).await.expect(200);
    body["has_fired"].as_bool().expect("has_fired")
}

async fn paused(app: &TestApp, m: &Marketplace, resource: &str) -> bool {
    let body = app
        .get(&format!("/api/marketplace-resources/{resource}/"), m.owner_token())
        .await
        .expect(200);
    body["paused"].as_bool().expect("paused")
}

/// `meterguard_task_restarts_total{task}` from `/metrics`. The recorder is shared by every app
/// of the test binary, so a test only ever asserts that the count grew.
async fn restarts(app: &TestApp, task: &str) -> u64 {
    let text = app.call(Method::GET, "/metrics", None, None).await.expect(200);
    let series = format!("meterguard_task_restarts_total{{task=\"{task}\"}}");
    text.as_str()
        .expect("metrics text")
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .unwrap_or_else(|| panic!("no {series} in /metrics"))
        .trim()
        .parse()
        .expect("a count")
}

/// The 500 every server fault answers with: DRF's body, nothing of the fault itself.
#[track_caller]
fn assert_server_error(reply: crate::helpers::Reply) {
    assert_eq!(reply.header("content-type").as_deref(), Some("application/json"));
    assert_eq!(reply.expect(500), json!({"detail": "A server error occurred."}));
}

api_test!(
    async fn a_panic_in_a_report_batch_fails_that_batch_only(app) {
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, 100, 1).await;
        let vm = m.resource(&app, "vm").await;
        let before = restarts(&app, "report_writer").await;

        // The panic strikes while the fire is written, as finding 1's crafted attribute did.
        app.faults.arm(Site::ReportBatch, Fault::Panic);
        assert_server_error(app.post(SET_USAGE, m.provider_token(), report(&vm, "150")).await);
        assert!(!app.faults.armed(Site::ReportBatch));
        assert!(!has_fired(&app, &uuid).await, "the panicked batch was rolled back");
        assert!(!paused(&app, &m, &vm).await);
        eventually("the writer's restart is counted", || async {
            restarts(&app, "report_writer").await > before
        })
        .await;

        // The restarted writer takes the next report, fires the policy and runs its action.
        app.post(SET_USAGE, m.provider_token(), report(&vm, "150")).await.expect(201);
        assert!(has_fired(&app, &uuid).await);
        assert!(paused(&app, &m, &vm).await);
        // And resets it as before.
        app.post(SET_USAGE, m.provider_token(), report(&vm, "10")).await.expect(201);
        assert!(!has_fired(&app, &uuid).await);
        assert!(!paused(&app, &m, &vm).await);
    }
);

api_test!(
    async fn reports_queued_behind_a_panicking_batch_are_all_answered(app) {
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, 100, 1).await;
        let vm = m.resource(&app, "vm").await;
        app.faults.arm(Site::ReportBatch, Fault::Panic);
        // Sent together: the first batch panics, and whatever queued behind it is written by the
        // restarted writer; none hangs, and only the panicked batch answers 500.
        let replies = send_together(&app, &m, &vm).await;
        let failed = replies.iter().filter(|(status, _)| *status == 500).count();
        let created = replies.iter().filter(|(status, _)| *status == 201).count();
        assert_eq!(failed + created, replies.len(), "{replies:?}");
        assert!(failed >= 1, "the armed panic failed a batch: {replies:?}");
        for (_, body) in replies.iter().filter(|(status, _)| *status == 500) {
            assert_eq!(body, &json!({"detail": "A server error occurred."}));
        }
        assert!(!app.faults.armed(Site::ReportBatch));
        app.post(SET_USAGE, m.provider_token(), report(&vm, "150")).await.expect(201);
        assert!(has_fired(&app, &uuid).await);
    }
);

/// Sixteen reports of small amounts on one resource, sent at once: (status, body) of each.
async fn send_together(app: &TestApp, m: &Marketplace, vm: &str) -> Vec<(u16, Value)> {
    let token = m.provider_token().to_string();
    let requests = (0..16)
        .map(|i| {
            (
                Method::POST,
                SET_USAGE.to_string(),
                token.clone(),
                report(vm, &format!("{i}.00")),
            )
        })
        .collect();
    app.together(requests).await
}

api_test!(
    async fn an_error_in_a_report_batch_answers_500_and_the_next_report_fires(app) {
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, 100, 1).await;
        let vm = m.resource(&app, "vm").await;
        app.faults.arm(Site::ReportBatch, Fault::Error);
        assert_server_error(app.post(SET_USAGE, m.provider_token(), report(&vm, "150")).await);
        assert!(!has_fired(&app, &uuid).await);
        let rows = app
            .get(&format!("/api/marketplace-component-usages/?resource_uuid={vm}"), app.staff())
            .await
            .expect(200);
        assert_eq!(rows, json!([]), "nothing of the failed report was kept");
        app.post(SET_USAGE, m.provider_token(), report(&vm, "150")).await.expect(201);
        assert!(has_fired(&app, &uuid).await);
    }
);

api_test!(
    async fn a_panic_in_a_handler_answers_500_json_and_the_next_request_is_served(app) {
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, 100, 1).await;
        let vm = m.resource(&app, "vm").await;
        app.faults.arm(Site::Handler, Fault::Panic);
        assert_server_error(app.get("/api/customers/", app.staff()).await);
        app.get("/api/customers/", app.staff()).await.expect(200);
        // An error there answers as any server error does.
        app.faults.arm(Site::Handler, Fault::Error);
        assert_server_error(app.post(SET_USAGE, m.provider_token(), report(&vm, "150")).await);
        assert!(!has_fired(&app, &uuid).await);
        app.post(SET_USAGE, m.provider_token(), report(&vm, "150")).await.expect(201);
        assert!(has_fired(&app, &uuid).await);
    }
);

api_test!(
    backend,
    async fn a_failed_sweep_is_retried_and_the_month_boundary_still_resets(backend) {
        // The clock jumps a month at a time: tokens that live a year keep the test's users signed
        // in across the jumps (an hour without use would expire them, and the retention pass
        // the jump wakes would delete them).
        let year = 366 * 24 * 3600;
        let app = spawn_app_at_with(backend, "2026-01-31T23:59:50Z", |s| s.token_lifetime_seconds = year).await;
        let m = marketplace(&app).await;
        let monthly = policy(&app, &m, 10, 2).await;
        let vm = m.resource(&app, "vm").await;
        app.post(SET_USAGE, m.provider_token(), report(&vm, "50")).await.expect(201);
        assert!(has_fired(&app, &monthly).await);
        assert!(paused(&app, &m, &vm).await);

        for (fault, boundary) in [(Fault::Panic, "2026-02-01T00:00:00Z"), (Fault::Error, "2026-03-01T00:00:00Z")] {
            let before = restarts(&app, "scheduler").await;
            app.faults.arm(Site::Sweep, fault);
            let boundary = chrono::DateTime::parse_from_rfc3339(boundary).expect("instant").to_utc();
            app.clock.set(boundary);
            eventually("the sweep at the boundary hit the fault", || async {
                !app.faults.armed(Site::Sweep)
            })
            .await;
            eventually("the restarted scheduler sweeps and resets the policy", || async {
                !has_fired(&app, &monthly).await
            })
            .await;
            assert!(!paused(&app, &m, &vm).await, "the reset ran its action ({fault:?})");
            assert!(restarts(&app, "scheduler").await > before);
            // Over the limit again in the new month, for the next round.
            app.post(SET_USAGE, m.provider_token(), report(&vm, "50")).await.expect(201);
            assert!(has_fired(&app, &monthly).await);
        }
    }
);

api_test!(
    backend,
    async fn a_failed_delivery_worker_is_restarted_and_delivers(backend) {
        let hooks = WebhookSink::start().await;
        let url = hooks.url.clone();
        let app = spawn_app_with(backend, |s| s.webhook_urls = vec![url]).await;
        let m = marketplace(&app).await;
        policy(&app, &m, 100, 1).await;
        let vm = m.resource(&app, "vm").await;
        for (fault, amount, delivered) in [(Fault::Panic, "150", 1), (Fault::Error, "10", 2)] {
            let before = restarts(&app, "delivery_worker").await;
            app.faults.arm(Site::Delivery, fault);
            // The worker polls the outbox even when nothing rang for it.
            eventually("the worker hit the fault", || async { !app.faults.armed(Site::Delivery) }).await;
            eventually("the worker's restart is counted", || async {
                restarts(&app, "delivery_worker").await > before
            })
            .await;
            app.post(SET_USAGE, m.provider_token(), report(&vm, amount)).await.expect(201);
            eventually("the restarted worker delivers the transition", || async {
                hooks.hooks().len() == delivered
            })
            .await;
        }
    }
);
