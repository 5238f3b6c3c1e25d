//! Actions waiting out a grace period (docs/ladder.md §4) applied exactly once: by two instances
//! whose schedulers are due at the same moment, and by an instance that was down at the due
//! time, after its restart.

use crate::client::{Api, Marketplace, POLICIES};
use crate::harness::{Backend, Env};
use serde_json::json;
use std::time::Duration;

/// Policies on one customer, each pausing and downscaling after the shortest grace period.
const POLICIES_WAITING: usize = 8;
const RESOURCES: usize = 3;
/// A minute of grace, and time for the scheduler to act after it.
const PAST_DUE: Duration = Duration::from_secs(75);

/// Creates the policies, fires them all with one report, and returns their uuids.
async fn fire_waiting_policies(staff: &Api, m: &Marketplace, resource: &str) -> Vec<String> {
    let options = json!({
        "request_pausing": {"grace_minutes": 1},
        "request_downscaling": {"grace_minutes": 1},
    });
    let mut policies = Vec::new();
    for _ in 0..POLICIES_WAITING {
        let body = json!({
            "scope": m.customer_url(), "actions": "request_pausing,request_downscaling", "options": options,
            "component_limits_set": [{"component": m.component("cpu_hours"), "limit": 10, "period": 1}]
        });
        policies.push(
            staff.post(POLICIES, body).await.expect(201)["uuid"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    staff
        .try_set_usage(resource, &[("cpu_hours", "50")], None)
        .await
        .expect("set_usage")
        .expect(201);
    for policy in &policies {
        let status = staff.get(&format!("{POLICIES}{policy}/status/")).await.expect(200);
        assert_eq!(status["has_fired"], true);
        assert_eq!(status["pending_actions"].as_array().map(Vec::len), Some(2), "{status}");
    }
    policies
}

/// Waits until every waiting action was applied, then checks each was applied once: one
/// `policy_action_applied` per action, every policy holding both flags of every resource, and
/// each flag set (with its event) once per resource.
async fn assert_applied_once(observer: &Api, policies: &[String], resources: &[String]) {
    let deadline = tokio::time::Instant::now() + PAST_DUE + Duration::from_secs(30);
    for policy in policies {
        loop {
            let status = observer.get(&format!("{POLICIES}{policy}/status/")).await.expect(200);
            if status["pending_actions"] == json!([]) {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "still waiting: {status}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let mut flag_events = 0;
    for policy in policies {
        let applied = observer.events("policy_action_applied", policy).await;
        let mut actions: Vec<&str> = applied
            .iter()
            .map(|e| e["context"]["action"].as_str().unwrap())
            .collect();
        actions.sort_unstable();
        assert_eq!(actions, ["request_downscaling", "request_pausing"], "policy {policy}");
        flag_events += observer.event_count("request_pausing", policy).await;
        flag_events += observer.event_count("request_downscaling", policy).await;
    }
    assert_eq!(flag_events, 2 * resources.len(), "each flag set once on each resource");
    for resource in resources {
        let r = observer
            .get(&format!("/api/marketplace-resources/{resource}/"))
            .await
            .expect(200);
        assert_eq!(
            (r["paused"].clone(), r["downscaled"].clone()),
            (json!(true), json!(true))
        );
        for flag in ["paused", "downscaled"] {
            let holders = r["restrictions"][flag].as_array().map(Vec::len);
            assert_eq!(
                holders,
                Some(policies.len()),
                "{flag} of {resource}: {}",
                r["restrictions"]
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_apply_each_waiting_action_once_when_both_are_due_at_the_same_moment() {
    let mut env = Env::new(Backend::Postgres).await;
    // Both schedulers look at the waiting actions every second, so both know the due time and
    // both wake at it, not only the instance that took the report.
    env.server_env("METERGUARD_SWEEP_SECONDS", "1");
    let token = env.create_staff_user("staff").await;
    let (a, b) = (env.start_server().await, env.start_server().await);
    let staff = Api::new(&a, &token);
    let m = Marketplace::build(&staff).await;
    let resources = m.resources(RESOURCES).await;
    let policies = fire_waiting_policies(&staff, &m, &resources[0]).await;
    assert_applied_once(&Api::new(&b, &token), &policies, &resources).await;
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_down_at_the_due_time_applies_the_waiting_actions_after_its_restart() {
    let mut env = Env::new(Backend::Sqlite).await;
    let token = env.create_staff_user("staff").await;
    let base = env.start_server().await;
    let staff = Api::new(&base, &token);
    let m = Marketplace::build(&staff).await;
    let resources = m.resources(RESOURCES).await;
    let policies = fire_waiting_policies(&staff, &m, &resources[0]).await;
    env.kill_server(&base);
    tokio::time::sleep(PAST_DUE).await;
    let restarted = env.start_server().await;
    assert_applied_once(&Api::new(&restarted, &token), &policies, &resources).await;
    env.finish().await;
}
