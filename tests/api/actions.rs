//! Actions that act: docs/actions.md, and the decisions of docs/differences.md §3.

use crate::api_test;
use crate::fixtures::{marketplace, Marketplace};
use crate::helpers::{spawn_app_with, TestApp};
use crate::sinks::{eventually, SmtpSink, WebhookSink};
use serde_json::{json, Value};

const POLICIES: &str = "/api/marketplace-customer-component-usage-policies/";
const SET_USAGE: &str = "/api/marketplace-component-usages/set_usage/";

async fn policy(app: &TestApp, m: &Marketplace, actions: &str, options: Value) -> String {
    let body = json!({
        "scope": m.customer_url(), "actions": actions, "options": options,
        "component_limits_set": [{"component": m.component("cpu_hours"), "limit": 100, "period": 1}]
    });
    app.post(POLICIES, app.staff(), body).await.expect(201)["uuid"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn usage(app: &TestApp, m: &Marketplace, resource: &str, amount: &str) {
    let body = json!({"resource": resource, "usages": [{"type": "cpu_hours", "amount": amount}]});
    app.post(SET_USAGE, m.provider_token(), body).await.expect(201);
}

async fn resource(app: &TestApp, m: &Marketplace, uuid: &str) -> Value {
    app.get(&format!("/api/marketplace-resources/{uuid}/"), m.owner_token())
        .await
        .expect(200)
}

async fn event_types(app: &TestApp, policy: &str) -> Vec<String> {
    let events = app
        .get(&format!("/api/events/?policy_uuid={policy}&page_size=300"), app.staff())
        .await
        .expect(200);
    let mut types: Vec<String> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_string())
        .collect();
    types.reverse();
    types
}

api_test!(
    async fn flags_are_set_on_fire_and_cleared_on_reset(app) {
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, "request_pausing,request_downscaling,restrict_members", json!({})).await;
        let vm = m.resource(&app, "vm").await;
        usage(&app, &m, &vm, "150").await;

        let r = resource(&app, &m, &vm).await;
        assert_eq!((r["paused"].clone(), r["downscaled"].clone(), r["restrict_member_access"].clone()), (json!(true), json!(true), json!(true)));
        // Which policy set a flag is not written into the client's attributes.
        assert_eq!(r["attributes"], json!({"name": "vm"}));
        let p = app.get(&format!("{POLICIES}{uuid}/"), app.staff()).await.expect(200);
        assert_eq!(p["affected_resources_count"], 1);
        let (_, nobody) = app.user("nobody").await;
        app.get(&format!("{POLICIES}{uuid}/"), &nobody).await.expect(404);

        usage(&app, &m, &vm, "50").await;
        let r = resource(&app, &m, &vm).await;
        assert_eq!((r["paused"].clone(), r["downscaled"].clone(), r["restrict_member_access"].clone()), (json!(false), json!(false), json!(false)));
        assert_eq!(app.get(&format!("{POLICIES}{uuid}/"), app.staff()).await.expect(200)["affected_resources_count"], 0);
        assert_eq!(
            event_types(&app, &uuid).await,
            [
                "policy_fired", "request_pausing", "request_downscaling", "restrict_members",
                "policy_reset", "reset_pausing", "reset_downscaling", "reset_member_restriction"
            ]
        );
        let events = app.get(&format!("/api/events/?event_type=request_pausing&policy_uuid={uuid}"), app.staff()).await.expect(200);
        assert_eq!(events[0]["context"]["resource_uuid"], vm.as_str());
        assert_eq!(events[0]["context"]["resource_name"], "vm");
    }
);

api_test!(
    async fn the_create_response_already_shows_what_the_actions_did(app) {
        let m = marketplace(&app).await;
        let vm = m.resource(&app, "vm").await;
        usage(&app, &m, &vm, "150").await;
        let body = json!({
            "scope": m.customer_url(), "actions": "request_pausing",
            "component_limits_set": [{"component": m.component("cpu_hours"), "limit": 100, "period": 1}]
        });
        let created = app.post(POLICIES, app.staff(), body).await.expect(201);
        assert_eq!(created["has_fired"], true);
        assert_eq!(created["affected_resources_count"], 1);
        assert_eq!(resource(&app, &m, &vm).await["paused"], true);
    }
);

api_test!(
    async fn terminate_resources_orders_termination_as_the_system_user(app) {
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, "terminate_resources", json!({})).await;
        let vm = m.resource(&app, "vm").await;
        usage(&app, &m, &vm, "150").await;
        assert_eq!(resource(&app, &m, &vm).await["state"], "Terminating");
        let orders = app.get(&format!("/api/marketplace-orders/?resource_uuid={vm}&type=Terminate"), m.owner_token()).await.expect(200);
        assert_eq!(orders.as_array().unwrap().len(), 1);
        let order = &orders[0];
        assert_eq!(order["state"], "executing");
        assert_eq!(order["created_by_username"], "system");
        assert_eq!(order["created_by_full_name"], "System");
        assert_eq!(order["consumer_reviewed_by_username"], "system");
        let done = format!("/api/marketplace-orders/{}/set_state_done/", order["uuid"].as_str().unwrap());
        app.post(&done, m.provider_token(), json!({})).await.expect(200);
        assert_eq!(resource(&app, &m, &vm).await["state"], "Terminated");
        assert_eq!(event_types(&app, &uuid).await, ["policy_fired", "terminate_resources"]);
        // The next crossing terminates only what is still live.
        let rows = app.get(&format!("/api/marketplace-component-usages/?resource_uuid={vm}"), app.staff()).await.expect(200);
        let row = rows[0]["uuid"].as_str().unwrap();
        app.delete(&format!("/api/marketplace-component-usages/{row}/"), app.staff()).await.expect(204);
        let vm2 = m.resource(&app, "vm2").await;
        usage(&app, &m, &vm2, "200").await;
        assert_eq!(resource(&app, &m, &vm2).await["state"], "Terminating");
        let all = app.get(&format!("/api/marketplace-orders/?resource_uuid={vm}&type=Terminate"), m.owner_token()).await.expect(200);
        assert_eq!(all.as_array().unwrap().len(), 1);
    }
);

api_test!(
    async fn termination_cancels_the_resources_other_open_orders(app) {
        let m = marketplace(&app).await;
        policy(&app, &m, "terminate_resources", json!({})).await;
        let vm = m.resource(&app, "vm").await;
        // A resource still being created, its Create order approved by both sides.
        let create = app.post("/api/marketplace-orders/", m.owner_token(), m.order_body("new")).await.expect(201);
        let order = create["uuid"].as_str().unwrap();
        let step = |name: &str| format!("/api/marketplace-orders/{order}/{name}/");
        app.post(&step("approve_by_consumer"), m.owner_token(), json!({})).await.expect(200);
        app.post(&step("approve_by_provider"), m.provider_token(), json!({})).await.expect(200);
        let creating = create["marketplace_resource_uuid"].as_str().unwrap().to_string();

        usage(&app, &m, &vm, "150").await;
        assert_eq!(resource(&app, &m, &creating).await["state"], "Terminating");
        let canceled = app.get(&format!("/api/marketplace-orders/{order}/"), m.owner_token()).await.expect(200);
        assert_eq!(canceled["state"], "canceled");
        // Completing the Create order now would undo the termination: it is no longer open.
        app.post(&step("set_state_done"), m.provider_token(), json!({})).await.expect(409);
        assert_eq!(resource(&app, &m, &creating).await["state"], "Terminating");
        let open = app.get(&format!("/api/marketplace-orders/?resource_uuid={creating}&state=executing"), app.staff()).await.expect(200);
        assert_eq!(open.as_array().unwrap().iter().map(|o| o["type"].clone()).collect::<Vec<_>>(), [json!("Terminate")]);
    }
);

api_test!(
    async fn block_creation_refuses_orders_and_writes_only_the_audit_event(app) {
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, "block_creation_of_new_resources", json!({})).await;
        let vm = m.resource(&app, "vm").await;
        usage(&app, &m, &vm, "150").await;
        let orders_before = app.get("/api/marketplace-orders/", app.staff()).await.header("x-result-count");
        let resources_before = app.get("/api/marketplace-resources/", app.staff()).await.header("x-result-count");
        let refused = app.post("/api/marketplace-orders/", m.owner_token(), m.order_body("another")).await.expect(400);
        assert_eq!(
            refused,
            json!([format!("Creation of new resources for organization Consumer Org is prohibited by usage policy {uuid}.")])
        );
        assert_eq!(app.get("/api/marketplace-orders/", app.staff()).await.header("x-result-count"), orders_before);
        assert_eq!(app.get("/api/marketplace-resources/", app.staff()).await.header("x-result-count"), resources_before);
        let blocked = app.get(&format!("/api/events/?event_type=block_creation_of_new_resources&policy_uuid={uuid}"), m.owner_token()).await.expect(200);
        assert_eq!(blocked.as_array().unwrap().len(), 1);
        assert_eq!(blocked[0]["context"]["project_uuid"], m.project["uuid"]);
        // Modification is not blocked by this action, and usage falling back lifts the block.
        app.patch(&format!("/api/marketplace-resources/{vm}/"), m.owner_token(), json!({"name": "renamed"})).await.expect(200);
        usage(&app, &m, &vm, "10").await;
        app.post("/api/marketplace-orders/", m.owner_token(), m.order_body("another")).await.expect(201);
    }
);

api_test!(
    async fn block_modification_refuses_edits_but_not_termination_or_usage(app) {
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, "block_modification_of_existing_resources", json!({})).await;
        let vm = m.resource(&app, "vm").await;
        usage(&app, &m, &vm, "150").await;
        let message = json!([format!("Modification of resources for organization Consumer Org is prohibited by usage policy {uuid}.")]);
        let path = format!("/api/marketplace-resources/{vm}/");
        assert_eq!(app.patch(&path, m.owner_token(), json!({"name": "x"})).await.expect(400), message);
        assert_eq!(app.put(&path, m.owner_token(), json!({"name": "x"})).await.expect(400), message);
        let limits = json!({"limits": {"storage_gb": 99}});
        assert_eq!(app.post(&format!("{path}update_limits/"), m.owner_token(), limits).await.expect(400), message);
        assert_eq!(resource(&app, &m, &vm).await["name"], "vm");
        // A save that changes nothing is no modification.
        app.patch(&path, m.owner_token(), json!({})).await.expect(200);
        app.patch(&path, m.owner_token(), json!({"name": "vm"})).await.expect(200);
        usage(&app, &m, &vm, "160").await;
        app.post("/api/marketplace-orders/", m.owner_token(), m.order_body("new")).await.expect(201);
        let terminate = app.post(&format!("{path}terminate/"), m.owner_token(), json!({})).await.expect(200);
        let order = terminate["order_uuid"].as_str().unwrap();
        for (step, token) in [("approve_by_consumer", m.owner_token()), ("approve_by_provider", m.provider_token())] {
            app.post(&format!("/api/marketplace-orders/{order}/{step}/"), token, json!({})).await.expect(200);
        }
        // A resource being terminated says so before it meets the block.
        let limits = json!({"limits": {"storage_gb": 99}});
        let gone = app.post(&format!("{path}update_limits/"), m.owner_token(), limits).await.expect(409);
        assert_eq!(gone, json!({"detail": "Valid states for operation: OK."}));
        let blocked = app.get(&format!("/api/events/?event_type=block_modification_of_existing_resources&policy_uuid={uuid}"), app.staff()).await.expect(200);
        assert_eq!(blocked.as_array().unwrap().len(), 3);
        assert_eq!(blocked[0]["context"]["resource_uuid"], vm.as_str());
    }
);

api_test!(
    async fn an_update_ordered_before_the_block_waits_while_it_holds(app) {
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, "block_modification_of_existing_resources", json!({})).await;
        let vm = m.resource(&app, "vm").await;
        let path = format!("/api/marketplace-resources/{vm}/");
        let step = |order: &str, name: &str| format!("/api/marketplace-orders/{order}/{name}/");
        let update = |limit: i64| {
            let (app, m, path) = (&app, &m, &path);
            async move {
                let body = json!({"limits": {"storage_gb": limit}});
                let placed = app.post(&format!("{path}update_limits/"), m.owner_token(), body).await.expect(200);
                let order = placed["order_uuid"].as_str().unwrap().to_string();
                app.post(&format!("/api/marketplace-orders/{order}/approve_by_consumer/"), m.owner_token(), json!({})).await.expect(200);
                order
            }
        };
        let message = json!([format!("Modification of resources for organization Consumer Org is prohibited by usage policy {uuid}.")]);

        // Placed and approved by the consumer, then the policy fires: the provider cannot start it.
        let order = update(20).await;
        usage(&app, &m, &vm, "150").await;
        assert_eq!(app.post(&step(&order, "approve_by_provider"), m.provider_token(), json!({})).await.expect(400), message);
        usage(&app, &m, &vm, "0").await;
        app.post(&step(&order, "approve_by_provider"), m.provider_token(), json!({})).await.expect(200);

        // Executing when the policy fires: the provider cannot complete it until the policy resets.
        usage(&app, &m, &vm, "150").await;
        // A step the order is not at says so, before the block.
        let again = app.post(&step(&order, "approve_by_provider"), m.provider_token(), json!({})).await.expect(409);
        assert_eq!(again, json!({"detail": "Valid states for operation: pending-provider."}));
        assert_eq!(app.post(&step(&order, "set_state_done"), m.provider_token(), json!({})).await.expect(400), message);
        assert_eq!(resource(&app, &m, &vm).await["limits"], json!({"storage_gb": 10}));
        usage(&app, &m, &vm, "0").await;
        app.post(&step(&order, "set_state_done"), m.provider_token(), json!({})).await.expect(200);
        assert_eq!(resource(&app, &m, &vm).await["limits"], json!({"storage_gb": 20}));
    }
);

api_test!(
    async fn changing_actions_while_fired_runs_nothing_new(app) {
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, "notify_organization_owners", json!({})).await;
        let vm = m.resource(&app, "vm").await;
        usage(&app, &m, &vm, "150").await;
        let path = format!("{POLICIES}{uuid}/");
        let changed = app.patch(&path, app.staff(), json!({"actions": "request_pausing"})).await.expect(200);
        assert_eq!(changed["has_fired"], true);
        assert_eq!(resource(&app, &m, &vm).await["paused"], false);
        // The next crossing runs the new actions.
        usage(&app, &m, &vm, "0").await;
        usage(&app, &m, &vm, "150").await;
        assert_eq!(resource(&app, &m, &vm).await["paused"], true);
    }
);

api_test!(
    async fn deleting_a_fired_policy_resets_it_first(app) {
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, "request_pausing", json!({})).await;
        let vm = m.resource(&app, "vm").await;
        usage(&app, &m, &vm, "150").await;
        assert_eq!(resource(&app, &m, &vm).await["paused"], true);
        app.delete(&format!("{POLICIES}{uuid}/"), app.staff()).await.expect(204);
        assert_eq!(resource(&app, &m, &vm).await["paused"], false);
        assert_eq!(event_types(&app, &uuid).await, ["policy_fired", "request_pausing", "policy_reset", "reset_pausing"]);
    }
);

api_test!(
    async fn moving_a_fired_policy_resets_it_where_it_fired(app) {
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, "request_pausing", json!({})).await;
        let vm = m.resource(&app, "vm").await;
        usage(&app, &m, &vm, "150").await;
        assert_eq!(resource(&app, &m, &vm).await["paused"], true);
        let other = app.customer("Other Org").await;
        let moved = app.patch(&format!("{POLICIES}{uuid}/"), app.staff(), json!({"scope": other["url"]})).await.expect(200);
        assert_eq!(moved["has_fired"], false);
        // The pause it put on the old customer's resource is undone there.
        assert_eq!(resource(&app, &m, &vm).await["paused"], false);
        assert_eq!(event_types(&app, &uuid).await, ["policy_fired", "request_pausing", "policy_reset", "reset_pausing"]);
        let resets = app.get(&format!("/api/events/?policy_uuid={uuid}&event_type=policy_reset"), app.staff()).await.expect(200);
        assert_eq!(resets[0]["context"]["customer_uuid"], m.customer_uuid());
        // Moved back to a customer over the limit, it fires there and acts again.
        let back = app.patch(&format!("{POLICIES}{uuid}/"), app.staff(), json!({"scope": m.customer_url()})).await.expect(200);
        assert_eq!(back["has_fired"], true);
        assert_eq!(resource(&app, &m, &vm).await["paused"], true);
    }
);

api_test!(
    async fn a_policy_moved_in_is_judged_by_its_new_customers_reports(app) {
        let m = marketplace(&app).await;
        let vm = m.resource(&app, "vm").await;
        let other = app.customer("Other Org").await;
        let body = json!({
            "scope": other["url"], "actions": "request_pausing",
            "component_limits_set": [{"component": m.component("cpu_hours"), "limit": 100, "period": 1}]
        });
        let uuid = app.post(POLICIES, app.staff(), body).await.expect(201)["uuid"].as_str().unwrap().to_string();
        // Another customer's policy does not see this customer's reports.
        usage(&app, &m, &vm, "150").await;
        assert_eq!(resource(&app, &m, &vm).await["paused"], false);
        usage(&app, &m, &vm, "50").await;
        // Moved here while under its limit, it stays quiet until a report crosses it.
        let moved = app.patch(&format!("{POLICIES}{uuid}/"), app.staff(), json!({"scope": m.customer_url()})).await.expect(200);
        assert_eq!(moved["has_fired"], false);
        usage(&app, &m, &vm, "150").await;
        assert_eq!(app.get(&format!("{POLICIES}{uuid}/"), app.staff()).await.expect(200)["has_fired"], true);
        assert_eq!(resource(&app, &m, &vm).await["paused"], true);
        // Moved away again, it is reset here and this customer's reports no longer reach it.
        app.patch(&format!("{POLICIES}{uuid}/"), app.staff(), json!({"scope": other["url"]})).await.expect(200);
        assert_eq!(resource(&app, &m, &vm).await["paused"], false);
        usage(&app, &m, &vm, "50").await;
        usage(&app, &m, &vm, "170").await;
        assert_eq!(app.get(&format!("{POLICIES}{uuid}/"), app.staff()).await.expect(200)["has_fired"], false);
        assert_eq!(resource(&app, &m, &vm).await["paused"], false);
    }
);

api_test!(
    backend,
    async fn emails_reach_owners_and_external_addresses_over_smtp(backend) {
        let smtp = SmtpSink::start().await;
        let url = smtp.url();
        let app = spawn_app_with(backend, |s| s.smtp_url = Some(url)).await;
        let m = marketplace(&app).await;
        let options = json!({"notify_external_user": " pi@example.org , ,grants@example.org"});
        let uuid = policy(&app, &m, "notify_organization_owners,notify_external_user", options).await;
        let vm = m.resource(&app, "vm").await;
        usage(&app, &m, &vm, "150.5").await;

        eventually("three emails", || async { smtp.mails().len() == 3 }).await;
        let mut recipients: Vec<String> = smtp.mails().iter().flat_map(|mail| mail.recipients.clone()).collect();
        recipients.sort();
        assert_eq!(recipients, ["grants@example.org", "owner@example.org", "pi@example.org"]);
        for mail in smtp.mails() {
            assert!(mail.data.contains("Subject: Usage of Consumer Org has exceeded a limit"), "{}", mail.data);
            assert!(mail.data.contains("CPU hours (cpu_hours): 150.50 hours used of 100 in period Total"), "{}", mail.data);
            assert!(mail.data.contains(&format!("/api/customers/{}/", m.customer_uuid())), "{}", mail.data);
        }
        eventually("notification events", || async {
            let events = app.get(&format!("/api/events/?event_type=policy_notification&policy_uuid={uuid}"), app.staff()).await.expect(200);
            events.as_array().unwrap().len() == 3
        })
        .await;
        let scheduled = event_types(&app, &uuid).await;
        assert!(scheduled.contains(&"notify_organization_owners".to_string()));
        assert!(scheduled.contains(&"notify_external_user".to_string()));
        // Usage staying over sends nothing more.
        usage(&app, &m, &vm, "200").await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(smtp.mails().len(), 3);
    }
);

api_test!(
    backend,
    async fn a_failing_smtp_server_is_retried_and_finally_recorded(backend) {
        let smtp = SmtpSink::start().await;
        let url = smtp.url();
        let app = spawn_app_with(backend, |s| s.smtp_url = Some(url)).await;
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, "notify_organization_owners", json!({})).await;
        let vm = m.resource(&app, "vm").await;

        // Two refusals, then acceptance: delivered once, on the third attempt.
        smtp.refuse_next(2);
        usage(&app, &m, &vm, "150").await;
        eventually("delivery after retries", || async { smtp.mails().len() == 1 }).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(smtp.mails().len(), 1);

        // Refusing more often than the attempts allow: recorded as failed, the API unaffected.
        usage(&app, &m, &vm, "0").await;
        smtp.refuse_next(10);
        let started = std::time::Instant::now();
        usage(&app, &m, &vm, "150").await;
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "set_usage does not wait for SMTP");
        eventually("a failure event", || async {
            let events = app.get(&format!("/api/events/?event_type=notification_delivery_failed&policy_uuid={uuid}"), app.staff()).await.expect(200);
            events.as_array().unwrap().len() == 1
        })
        .await;
        let failed = app.get(&format!("/api/events/?event_type=notification_delivery_failed&policy_uuid={uuid}"), app.staff()).await.expect(200);
        assert_eq!(failed[0]["context"]["attempts"], 3);
        assert_eq!(failed[0]["context"]["customer_uuid"], m.customer_uuid());
        assert_eq!(failed[0]["context"]["customer_name"], m.customer["name"]);
        let sent = app.get(&format!("/api/events/?event_type=policy_notification&policy_uuid={uuid}"), app.staff()).await.expect(200);
        assert_eq!(sent[0]["context"]["customer_name"], m.customer["name"]);
        assert_eq!(smtp.mails().len(), 1);
        let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("meterguard_deliveries_total"), "{metrics}");
        assert!(metrics.contains("meterguard_outbox_depth"), "{metrics}");
    }
);

api_test!(
    async fn without_smtp_the_email_is_recorded_as_not_sent(app) {
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, "notify_organization_owners", json!({})).await;
        let vm = m.resource(&app, "vm").await;
        usage(&app, &m, &vm, "150").await;
        eventually("a not-sent event", || async {
            let events = app.get(&format!("/api/events/?event_type=policy_notification&policy_uuid={uuid}"), app.staff()).await.expect(200);
            events.as_array().unwrap().first().is_some_and(|e| e["context"]["sent"] == false)
        })
        .await;
    }
);

api_test!(
    backend,
    async fn webhooks_are_signed_and_retried(backend) {
        let hooks = WebhookSink::start().await;
        let url = hooks.url.clone();
        let app = spawn_app_with(backend, |s| s.webhook_urls = vec![url]).await;
        let m = marketplace(&app).await;
        let uuid = policy(&app, &m, "notify_organization_owners", json!({})).await;
        let vm = m.resource(&app, "vm").await;
        hooks.fail_next(1);
        usage(&app, &m, &vm, "150").await;
        usage(&app, &m, &vm, "10").await;
        eventually("both transitions delivered", || async { hooks.hooks().len() == 2 }).await;
        let delivered = hooks.hooks();
        let mut events: Vec<String> = delivered
            .iter()
            .map(|h| serde_json::from_slice::<Value>(&h.body).unwrap()["event"].as_str().unwrap().to_string())
            .collect();
        events.sort();
        assert_eq!(events, ["policy_fired", "policy_reset"]);
        for hook in &delivered {
            let body: Value = serde_json::from_slice(&hook.body).unwrap();
            assert_eq!(body["policy_uuid"], uuid.as_str());
            let signature = hook.headers["x-meterguard-signature"].to_str().unwrap();
            assert_eq!(signature, meterguard::actions::webhooks::signature("test-secret", &hook.body));
            assert_eq!(hook.headers["x-meterguard-delivery"].to_str().unwrap(), body["delivery_key"].as_str().unwrap());
        }

        // A webhook that never answers well is given up on, and says for which customer.
        hooks.fail_next(10);
        usage(&app, &m, &vm, "150").await;
        let failed = format!("/api/events/?event_type=notification_delivery_failed&policy_uuid={uuid}");
        eventually("a failure event", || async {
            app.get(&failed, app.staff()).await.expect(200).as_array().unwrap().len() == 1
        })
        .await;
        let context = app.get(&failed, app.staff()).await.expect(200)[0]["context"].clone();
        assert_eq!((context["kind"].clone(), context["attempts"].clone()), (json!("webhook"), json!(3)));
        assert_eq!(context["customer_uuid"], m.customer_uuid());
        assert_eq!(context["customer_name"], m.customer["name"]);
    }
);

api_test!(
    backend,
    async fn all_eight_actions_at_once(backend) {
        let smtp = SmtpSink::start().await;
        let url = smtp.url();
        let app = spawn_app_with(backend, |s| s.smtp_url = Some(url)).await;
        let m = marketplace(&app).await;
        let all = "notify_organization_owners,notify_external_user,block_creation_of_new_resources,\
                   block_modification_of_existing_resources,terminate_resources,request_downscaling,\
                   restrict_members,request_pausing";
        let uuid = policy(&app, &m, all, json!({"notify_external_user": "ext@example.org"})).await;
        let vm = m.resource(&app, "vm").await;
        usage(&app, &m, &vm, "150").await;
        let r = resource(&app, &m, &vm).await;
        assert_eq!(r["state"], "Terminating");
        assert_eq!((r["paused"].clone(), r["downscaled"].clone(), r["restrict_member_access"].clone()), (json!(true), json!(false), json!(true)), "downscaling spares terminating resources");
        app.post("/api/marketplace-orders/", m.owner_token(), m.order_body("x")).await.expect(400);
        app.patch(&format!("/api/marketplace-resources/{vm}/"), m.owner_token(), json!({"name": "x"})).await.expect(400);
        eventually("two emails", || async { smtp.mails().len() == 2 }).await;
        let types = event_types(&app, &uuid).await;
        for t in ["policy_fired", "terminate_resources", "request_pausing", "restrict_members", "notify_organization_owners", "notify_external_user", "block_creation_of_new_resources", "block_modification_of_existing_resources"] {
            assert!(types.contains(&t.to_string()), "{t} in {types:?}");
        }
    }
);
