//! Policy writes sent together share a transaction (docs/evaluation.md §4.4): each is answered
//! as if it had been written alone, and a refused one writes nothing.

use crate::api_test;
use crate::fixtures::{marketplace, staff_cpu_usage, uuid_of, Marketplace};
use crate::helpers::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

const BASE: &str = "/api/marketplace-customer-component-usage-policies/";

/// Sends the requests at once, as staff: (status, body) of each, in the order given.
async fn send_together(app: &TestApp, requests: Vec<(Method, String, Value)>) -> Vec<(u16, Value)> {
    let staff = app.staff().to_string();
    let requests = requests
        .into_iter()
        .map(|(method, path, body)| (method, path, staff.clone(), body))
        .collect();
    app.together(requests).await
}

fn create_body(m: &Marketplace, component: &str, limit: i64) -> Value {
    json!({
        "scope": m.customer_url(), "actions": "notify_organization_owners",
        "component_limits_set": [{"component": component, "limit": limit, "period": 1}]
    })
}

/// The uuids of the consumer's policies.
async fn policies_of(app: &TestApp, m: &Marketplace) -> Vec<String> {
    let path = format!("{BASE}?customer_uuid={}&page_size=100", m.customer_uuid());
    let listed = app.get(&path, app.staff()).await.expect(200);
    listed.as_array().unwrap().iter().map(uuid_of).collect()
}

api_test!(
    async fn creates_sent_together_are_each_answered_and_a_refused_one_writes_nothing(app) {
        let m = marketplace(&app).await;
        let missing = "0123456789abcdef0123456789abcdef";
        // A scope is found in the batch that locks it: one naming no customer is refused there.
        let nobody = m.customer_url().replace(m.customer_uuid(), missing);
        let requests = (0..16)
            .map(|i| {
                let component = if i % 4 == 3 { missing.to_string() } else { m.component("cpu_hours") };
                let mut body = create_body(&m, &component, 100 + i);
                if i % 8 == 5 {
                    body["scope"] = json!(nobody);
                }
                (Method::POST, BASE.to_string(), body)
            })
            .collect();
        let answers = send_together(&app, requests).await;
        let mut created = Vec::new();
        for (i, (status, body)) in answers.into_iter().enumerate() {
            if i % 8 == 5 {
                assert_eq!(status, 400, "{body}");
                assert_eq!(body, json!({"scope": ["Invalid hyperlink - Object does not exist."]}));
            } else if i % 4 == 3 {
                assert_eq!(status, 400, "{body}");
                assert_eq!(
                    body,
                    json!(["Component with uuid 01234567-89ab-cdef-0123-456789abcdef does not exist."])
                );
            } else {
                assert_eq!(status, 201, "{body}");
                // Each answer is its own policy, with its own limit, for the customer it names.
                assert_eq!(body["component_limits_set"][0]["limit"], 100 + i as i64);
                assert_eq!(body["scope"], json!(m.customer_url()));
                created.push(uuid_of(&body));
            }
        }
        assert_eq!(created.len(), 10);
        let mut listed = policies_of(&app, &m).await;
        listed.sort();
        created.sort();
        assert_eq!(listed, created);
    }
);

api_test!(
    async fn creates_sent_together_over_a_limit_each_fire(app) {
        let m = marketplace(&app).await;
        let vm = m.resource(&app, "vm").await;
        staff_cpu_usage(&app, &vm, "50").await;
        let cpu = m.component("cpu_hours");
        let requests = [10, 100, 20, 200, 30, 300]
            .iter()
            .map(|&limit| (Method::POST, BASE.to_string(), create_body(&m, &cpu, limit)))
            .collect();
        let answers = send_together(&app, requests).await;
        let fired: Vec<bool> = answers
            .iter()
            .map(|(status, body)| {
                assert_eq!(*status, 201, "{body}");
                body["has_fired"].as_bool().unwrap()
            })
            .collect();
        assert_eq!(fired, [true, false, true, false, true, false]);
        for (_, body) in &answers {
            let path = format!("{BASE}{}/", uuid_of(body));
            assert_eq!(app.get(&path, app.staff()).await.expect(200)["has_fired"], body["has_fired"]);
        }
    }
);

api_test!(
    async fn changes_sent_together_to_one_policy_are_each_applied_in_turn(app) {
        let m = marketplace(&app).await;
        let uuid = m.cpu_policy(&app, "notify_organization_owners", 100, 1).await;
        let path = format!("{BASE}{uuid}/");
        let requests = (0..8)
            .map(|i| {
                let options = json!({"request_pausing": {"grace_minutes": 10 + i}});
                (Method::PATCH, path.clone(), json!({"actions": "request_pausing", "options": options}))
            })
            .collect();
        let answers = send_together(&app, requests).await;
        // Each answer shows the policy right after its own change, not after another's.
        for (i, (status, body)) in answers.iter().enumerate() {
            assert_eq!(*status, 200, "{body}");
            assert_eq!(body["options"], json!({"request_pausing": {"grace_minutes": 10 + i}}));
        }
        let last = app.get(&path, app.staff()).await.expect(200);
        assert!(answers.iter().any(|(_, body)| body["options"] == last["options"]));
    }
);

api_test!(
    async fn a_refused_change_sent_with_others_changes_nothing_and_the_others_are_written(app) {
        let m = marketplace(&app).await;
        let mut uuids = Vec::new();
        for limit in [100, 200, 300, 400] {
            uuids.push(m.cpu_policy(&app, "notify_organization_owners", limit, 1).await);
        }
        let missing = "0123456789abcdef0123456789abcdef";
        let requests = uuids
            .iter()
            .enumerate()
            .map(|(i, uuid)| {
                let component = if i == 2 { missing.to_string() } else { m.component("storage_gb") };
                let body = json!({
                    "actions": "block_creation_of_new_resources",
                    "component_limits_set": [{"component": component, "limit": 7, "period": 2}]
                });
                (Method::PATCH, format!("{BASE}{uuid}/"), body)
            })
            .collect();
        let answers = send_together(&app, requests).await;
        for (i, uuid) in uuids.iter().enumerate() {
            let now = app.get(&format!("{BASE}{uuid}/"), app.staff()).await.expect(200);
            if i == 2 {
                assert_eq!(answers[i].0, 400, "{}", answers[i].1);
                assert_eq!(now["actions"], "notify_organization_owners");
                assert_eq!(now["component_limits_set"][0]["limit"], 300);
                assert_eq!(now["component_limits_set"][0]["type"], "cpu_hours");
            } else {
                assert_eq!(answers[i].0, 200, "{}", answers[i].1);
                assert_eq!(answers[i].1, now);
                assert_eq!(now["actions"], "block_creation_of_new_resources");
                assert_eq!(now["component_limits_set"][0]["limit"], 7);
                assert_eq!(now["component_limits_set"][0]["type"], "storage_gb");
            }
        }
    }
);
