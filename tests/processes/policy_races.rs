//! Policy writes racing usage reports (docs/evaluation.md §5.1: once per crossing, also with concurrent writers
//! and several instances). A policy is created, or its limit moved, at the moment a report moves
//! the customer's usage across that limit; whichever commits first, the policy must end fired
//! exactly when its usage is over its limit. On PostgreSQL the two requests go to two instances.

use crate::client::{Api, Marketplace, POLICIES};
use crate::harness::{Backend, Env};
use reqwest::Method;
use serde_json::{json, Value};

/// Rounds of each race; every round's report raises the usage, so each one moves the total.
const ROUNDS: i64 = 25;
const FAR: i64 = 1_000_000_000;

struct Race {
    /// Policy writes go here, reports to `reporter` (another instance on PostgreSQL).
    staff: Api,
    reporter: Api,
    resource: String,
    m: Marketplace,
    /// The customer's `cpu_hours` total, in whole units, after the last report.
    usage: i64,
}

impl Race {
    fn limits(&self, limit: i64) -> Value {
        json!([{"component": self.m.component("cpu_hours"), "limit": limit, "period": 1}])
    }

    /// Sends `write` and a report that raises the usage by `by` at the same time.
    async fn write_while_reporting(&mut self, write: (Method, String, Value), by: i64) -> Value {
        self.usage += by;
        let amount = self.usage.to_string();
        let (method, path, body) = write;
        let usages = [("cpu_hours", amount.as_str())];
        let (written, reported) = tokio::join!(
            self.staff.try_send(method, &path, Some(&body)),
            self.reporter.try_set_usage(&self.resource, &usages, None)
        );
        reported.expect("set_usage").expect(201);
        let written = written.expect("policy write");
        assert!(
            written.status.is_success(),
            "policy write: {} {}",
            written.status,
            written.body
        );
        written.body
    }

    async fn patch_limit(&self, policy: &str, limit: i64) {
        let body = json!({"component_limits_set": self.limits(limit)});
        self.staff
            .try_send(Method::PATCH, &format!("{POLICIES}{policy}/"), Some(&body))
            .await
            .expect("PATCH")
            .expect(200);
    }

    /// The policy as it stands now: fired, and over its limit by the status endpoint.
    async fn assert_true_to_usage(&self, policy: &str, over: bool, what: &str) {
        let status = self.staff.get(&format!("{POLICIES}{policy}/status/")).await.expect(200);
        let rows_over = status["limits"]
            .as_array()
            .expect("limits")
            .iter()
            .any(|l| l["over"] == true);
        assert_eq!(rows_over, over, "{what}: over by the status endpoint; {status}");
        assert_eq!(
            status["has_fired"], over,
            "{what}: fired exactly when over its limit; {status}"
        );
    }
}

/// Staff on the first of `instances` new servers and on the last (the same one when alone).
async fn staff_on_servers(env: &mut Env, instances: usize) -> (Api, Api) {
    let token = env.create_staff_user("staff").await;
    let first = env.start_server().await;
    let last = if instances > 1 {
        env.start_server().await
    } else {
        first.clone()
    };
    (Api::new(&first, &token), Api::new(&last, &token))
}

async fn policy_writes_racing_reports(env: &mut Env, instances: usize) {
    let (staff, other) = staff_on_servers(env, instances).await;
    let m = Marketplace::build(&staff).await;
    let resource = m.resources(1).await.remove(0);
    let reporter = m.provider.at(&other.base);
    let mut race = Race {
        staff,
        reporter,
        resource,
        m,
        usage: 0,
    };
    let body = json!({"scope": race.m.customer_url(), "actions": "notify_organization_owners",
                      "component_limits_set": race.limits(FAR)});
    let standing = race.staff.post(POLICIES, body).await.expect(201);
    let standing = standing["uuid"].as_str().expect("uuid").to_string();

    for round in 1..=ROUNDS {
        // Lowered under the usage the report brings: fired.
        let write = (
            Method::PATCH,
            format!("{POLICIES}{standing}/"),
            json!({"component_limits_set": race.limits(race.usage + 5)}),
        );
        race.write_while_reporting(write, 10).await;
        race.assert_true_to_usage(&standing, true, &format!("round {round}, limit lowered"))
            .await;

        // Raised far above it while the report crosses the old limit: not fired.
        race.patch_limit(&standing, race.usage + 5).await;
        race.assert_true_to_usage(&standing, false, &format!("round {round}, reset"))
            .await;
        let write = (
            Method::PATCH,
            format!("{POLICIES}{standing}/"),
            json!({"component_limits_set": race.limits(FAR)}),
        );
        race.write_while_reporting(write, 10).await;
        race.assert_true_to_usage(&standing, false, &format!("round {round}, limit raised"))
            .await;

        // Created with a limit the report crosses: fired.
        let body = json!({"scope": race.m.customer_url(), "actions": "notify_organization_owners",
                          "component_limits_set": race.limits(race.usage + 5)});
        let created = race
            .write_while_reporting((Method::POST, POLICIES.to_string(), body), 10)
            .await;
        let created = created["uuid"].as_str().expect("uuid").to_string();
        race.assert_true_to_usage(&created, true, &format!("round {round}, created"))
            .await;
        race.staff
            .try_send(Method::DELETE, &format!("{POLICIES}{created}/"), None)
            .await
            .expect("DELETE")
            .expect(204);
    }
}

/// Policies moved between two customers at the same time, in opposite directions, while other
/// requests change the same policies in place, on two instances: every change is taken (none
/// dies in a lock cycle), and each policy ends with the customer its move named.
async fn policies_moving_between_customers(env: &mut Env, instances: usize) {
    let (a_api, b_api) = staff_on_servers(env, instances).await;
    let m = Marketplace::build(&a_api).await;
    let other = a_api
        .post("/api/customers/", json!({"name": "Other Org"}))
        .await
        .expect(201);
    let scopes = [
        m.customer_url().to_string(),
        other["url"].as_str().expect("url").to_string(),
    ];
    let limits = json!([{"component": m.component("cpu_hours"), "limit": 10, "period": 1}]);
    let mut policies = Vec::new();
    for scope in &scopes {
        let body = json!({"scope": scope, "actions": "notify_organization_owners", "component_limits_set": limits});
        let created = a_api.post(POLICIES, body).await.expect(201);
        policies.push(created["uuid"].as_str().expect("uuid").to_string());
    }
    let patch = |api: &Api, policy: &str, body: Value| {
        let (api, path) = (api.clone(), format!("{POLICIES}{policy}/"));
        async move { api.try_send(Method::PATCH, &path, Some(&body)).await.expect("PATCH") }
    };
    let in_place = json!({"actions": "notify_organization_owners,request_pausing"});
    for round in 0..ROUNDS as usize {
        let (to_b, to_a) = (&scopes[(round + 1) % 2], &scopes[round % 2]);
        let replies = tokio::join!(
            patch(&a_api, &policies[0], json!({"scope": to_b})),
            patch(&b_api, &policies[1], json!({"scope": to_a})),
            patch(&b_api, &policies[0], in_place.clone()),
            patch(&a_api, &policies[1], in_place.clone()),
        );
        for reply in [replies.0, replies.1, replies.2, replies.3] {
            assert_eq!(reply.status.as_u16(), 200, "round {round}: {}", reply.body);
        }
        for (policy, scope) in policies.iter().zip([to_b, to_a]) {
            let now = a_api.get(&format!("{POLICIES}{policy}/")).await.expect(200);
            assert_eq!(now["scope"].as_str(), Some(scope.as_str()), "round {round}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_move_policies_between_customers_side_by_side() {
    let mut env = Env::new(Backend::Postgres).await;
    policies_moving_between_customers(&mut env, 2).await;
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_keep_policies_true_to_usage_when_policy_writes_race_reports() {
    let mut env = Env::new(Backend::Postgres).await;
    policy_writes_racing_reports(&mut env, 2).await;
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_sqlite_instance_keeps_policies_true_to_usage_when_policy_writes_race_reports() {
    let mut env = Env::new(Backend::Sqlite).await;
    policy_writes_racing_reports(&mut env, 1).await;
    env.finish().await;
}
