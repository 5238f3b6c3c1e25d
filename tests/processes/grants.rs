//! Grants' expiries (docs/grants.md §3) processed exactly once: two instances on one PostgreSQL
//! whose schedulers are both due at the same moment, each expiry firing its policy once, as of
//! the expiry.

use crate::client::{Api, Marketplace, POLICIES};
use crate::harness::{Backend, Env};
use chrono::{SecondsFormat, Utc};
use serde_json::json;
use std::time::Duration;

const GRANTS: &str = "/api/marketplace-component-usage-grants/";
/// Policies of one customer, each lifted by a grant that expires at the same moment.
const POLICIES_LIFTED: usize = 8;
/// Time to set everything up before the grants expire.
const UNTIL_EXPIRY: chrono::Duration = chrono::Duration::seconds(8);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_fire_each_policy_once_at_its_grants_expiry() {
    let mut env = Env::new(Backend::Postgres).await;
    // Both schedulers look at the grants every second, so both know the expiry and wake at it,
    // not only the instance that took the grants.
    env.server_env("METERGUARD_SWEEP_SECONDS", "1");
    let token = env.create_staff_user("staff").await;
    let (a, b) = (env.start_server().await, env.start_server().await);
    let staff = Api::new(&a, &token);
    let m = Marketplace::build(&staff).await;
    let resource = m.resources(1).await.remove(0);
    let expires_at = (Utc::now() + UNTIL_EXPIRY).to_rfc3339_opts(SecondsFormat::Micros, true);
    let mut policies = Vec::new();
    for _ in 0..POLICIES_LIFTED {
        let policy = m.cpu_policy(&staff, 10, "request_pausing").await;
        let body = json!({
            "policy": format!("{POLICIES}{policy}/"), "component": m.component("cpu_hours"),
            "amount": "100", "expires_at": expires_at, "reason": "a week of extra hours"
        });
        staff.post(GRANTS, body).await.expect(201);
        policies.push(policy);
    }
    staff
        .try_set_usage(&resource, &[("cpu_hours", "50")], None)
        .await
        .expect("set_usage")
        .expect(201);
    for policy in &policies {
        assert_eq!(staff.policy(policy).await["has_fired"], false, "lifted by its grant");
    }

    let observer = Api::new(&b, &token);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    for policy in &policies {
        while observer.policy(policy).await["has_fired"] != true {
            assert!(tokio::time::Instant::now() < deadline, "policy {policy} never fired");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    // Let both schedulers wake a few more times before counting.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for policy in &policies {
        assert_eq!(observer.policy(policy).await["fired_datetime"], json!(expires_at));
        assert_eq!(
            observer.event_count("grant_expired", policy).await,
            1,
            "policy {policy}"
        );
        assert_eq!(observer.event_count("policy_fired", policy).await, 1, "policy {policy}");
    }
    env.finish().await;
}
