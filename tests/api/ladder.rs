//! The enforcement ladder (docs/ladder.md): warnings below the limit, hysteresis, grace periods
//! and restrictions owned by their policies.

use crate::api_test;
use crate::fixtures::{
    marketplace, policy_as_staff as get_policy, policy_events as events, staff_cpu_usage as usage, uuid_of, Marketplace,
};
use crate::helpers::{spawn_app_with, TestApp};
use crate::sinks::{eventually, SmtpSink, WebhookSink};
use chrono::Duration;
use serde_json::{json, Value};

const POLICIES: &str = "/api/marketplace-customer-component-usage-policies/";
const POLICY_KEYS: [&str; 17] = [
    "uuid",
    "url",
    "scope",
    "scope_name",
    "scope_uuid",
    "actions",
    "created",
    "created_by_full_name",
    "created_by_username",
    "has_fired",
    "fired_datetime",
    "options",
    "affected_resources_count",
    "component_limits_set",
    "warning_thresholds",
    "reset_below_percent",
    "warning_level",
];

/// A cpu_hours policy (limit `limit`, period Total) with `extra` fields merged into its body.
async fn policy(app: &TestApp, m: &Marketplace, actions: &str, limit: i64, extra: Value) -> Value {
    let mut body = json!({
        "scope": m.customer_url(), "actions": actions,
        "component_limits_set": [{"component": m.component("cpu_hours"), "limit": limit, "period": 1}]
    });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    app.post(POLICIES, app.staff(), body).await.expect(201)
}

async fn status(app: &TestApp, uuid: &str) -> Value {
    app.get(&format!("{POLICIES}{uuid}/status/"), app.staff())
        .await
        .expect(200)
}

/// The resource as its customer's owner sees it (or staff, where a test moves the clock past the
/// owner's token lifetime).
async fn resource(app: &TestApp, m: &Marketplace, uuid: &str) -> Value {
    app.get(&format!("/api/marketplace-resources/{uuid}/"), m.owner_token())
        .await
        .expect(200)
}

async fn resource_as_staff(app: &TestApp, uuid: &str) -> Value {
    app.get(&format!("/api/marketplace-resources/{uuid}/"), app.staff())
        .await
        .expect(200)
}

/// The uuids of the policies holding the resource's `flag`.
async fn holders(app: &TestApp, m: &Marketplace, vm: &str, flag: &str) -> Vec<String> {
    resource(app, m, vm).await["restrictions"][flag]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["policy_uuid"].as_str().unwrap().to_string())
        .collect()
}

api_test!(
    async fn ladder_fields_default_to_upstream_and_are_checked(app) {
        let m = marketplace(&app).await;
        let upstream = policy(&app, &m, "notify_organization_owners", 100, json!({})).await;
        let keys: Vec<&str> = upstream.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, POLICY_KEYS, "upstream's fields in their order, then the ladder's");
        assert_eq!(upstream["warning_thresholds"], json!([]));
        assert_eq!(upstream["reset_below_percent"], 100);
        assert_eq!(upstream["warning_level"], Value::Null);

        let laddered = policy(
            &app, &m, "notify_organization_owners", 100,
            json!({"warning_thresholds": [90, 50, "80"], "reset_below_percent": "90"}),
        )
        .await;
        assert_eq!(laddered["warning_thresholds"], json!([50, 80, 90]));
        assert_eq!(laddered["reset_below_percent"], 90);
        assert_eq!(laddered["warning_level"], Value::Null);
        let uuid = uuid_of(&laddered);

        let cases = [
            (json!({"warning_thresholds": "80"}), "warning_thresholds", "Expected a list of items but got type \"str\"."),
            (json!({"warning_thresholds": [0]}), "warning_thresholds", "Ensure this value is greater than or equal to 1."),
            (json!({"warning_thresholds": [100]}), "warning_thresholds", "Ensure this value is less than or equal to 99."),
            (json!({"warning_thresholds": ["x"]}), "warning_thresholds", "A valid integer is required."),
            (json!({"warning_thresholds": [80, 80]}), "warning_thresholds", "Thresholds must be distinct; 80 is repeated."),
            (json!({"warning_thresholds": [1, 2, 3, 4, 5, 6]}), "warning_thresholds", "Ensure this field has no more than 5 elements."),
            (json!({"warning_thresholds": null}), "warning_thresholds", "This field may not be null."),
            (json!({"reset_below_percent": 0}), "reset_below_percent", "Ensure this value is greater than or equal to 1."),
            (json!({"reset_below_percent": 101}), "reset_below_percent", "Ensure this value is less than or equal to 100."),
            (json!({"reset_below_percent": 1.5}), "reset_below_percent", "A valid integer is required."),
            (json!({"options": {"request_pausing": {"grace_minutes": 43201}}}), "options", "Options for request_pausing are invalid."),
            (json!({"options": {"terminate_resources": {"grace_minutes": -1}}}), "options", "Options for terminate_resources are invalid."),
            (json!({"options": {"restrict_members": {"grace": 5}}}), "options", "Options for restrict_members are invalid."),
        ];
        for (body, field, message) in cases {
            let refused = app.patch(&format!("{POLICIES}{uuid}/"), app.staff(), body.clone()).await.expect(400);
            assert_eq!(refused, json!({field: [message]}), "{body}");
        }
        // A PATCH changes what it sends; a PUT without the ladder's fields keeps them.
        let patched = app
            .patch(&format!("{POLICIES}{uuid}/"), app.staff(), json!({"warning_thresholds": [75]}))
            .await
            .expect(200);
        assert_eq!((patched["warning_thresholds"].clone(), patched["reset_below_percent"].clone()), (json!([75]), json!(90)));
        let put = json!({
            "scope": m.customer_url(), "actions": "request_pausing",
            "component_limits_set": [{"component": m.component("cpu_hours"), "limit": 100, "period": 1}]
        });
        let replaced = app.put(&format!("{POLICIES}{uuid}/"), app.staff(), put).await.expect(200);
        assert_eq!(replaced["warning_thresholds"], json!([75]));
        // Back to upstream's settings.
        let back = app
            .patch(&format!("{POLICIES}{uuid}/"), app.staff(), json!({"warning_thresholds": [], "reset_below_percent": 100}))
            .await
            .expect(200);
        assert_eq!((back["warning_thresholds"].clone(), back["reset_below_percent"].clone()), (json!([]), json!(100)));
        let graced = policy(
            &app, &m, "request_pausing,notify_external_user", 100,
            json!({"options": {"request_pausing": {"grace_minutes": 60}, "notify_external_user": "pi@example.org"}}),
        )
        .await;
        assert_eq!(graced["options"]["request_pausing"], json!({"grace_minutes": 60}));
    }
);

api_test!(
    backend,
    async fn warnings_rise_jump_fall_and_rise_again(backend) {
        let smtp = SmtpSink::start().await;
        let hooks = WebhookSink::start().await;
        let (smtp_url, hook_url) = (smtp.url(), hooks.url.clone());
        let app = spawn_app_with(backend, |s| {
            s.smtp_url = Some(smtp_url);
            s.webhook_urls = vec![hook_url];
        })
        .await;
        let m = marketplace(&app).await;
        let options = json!({"notify_external_user": "pi@example.org"});
        let p = policy(
            &app, &m, "notify_external_user", 100,
            json!({"warning_thresholds": [50, 80, 90], "options": options}),
        )
        .await;
        let uuid = uuid_of(&p);
        let vm = m.resource(&app, "vm").await;

        // Exactly at 50 % is not over it.
        usage(&app, &vm, "50").await;
        assert_eq!(get_policy(&app, &uuid).await["warning_level"], Value::Null);
        usage(&app, &vm, "60.5").await;
        assert_eq!(get_policy(&app, &uuid).await["warning_level"], 50);
        // From 50 to 95: one warning, for 90.
        usage(&app, &vm, "95").await;
        assert_eq!(get_policy(&app, &uuid).await["warning_level"], 90);
        // Falling says nothing; rising again warns again.
        usage(&app, &vm, "40").await;
        assert_eq!(get_policy(&app, &uuid).await["warning_level"], Value::Null);
        usage(&app, &vm, "85").await;
        let policy_now = get_policy(&app, &uuid).await;
        assert_eq!((policy_now["warning_level"].clone(), policy_now["has_fired"].clone()), (json!(80), json!(false)));

        let warnings = events(&app, &uuid, "policy_warning").await;
        let thresholds: Vec<Value> = warnings.iter().map(|e| e["context"]["threshold"].clone()).collect();
        assert_eq!(thresholds, [json!(50), json!(90), json!(80)]);
        let first = &warnings[0]["context"];
        assert_eq!(first["customer_uuid"], m.customer_uuid());
        assert_eq!(first["customer_name"], "Consumer Org");
        assert_eq!(first["policy_uuid"], uuid.as_str());
        assert_eq!(first["exceeded"], json!([{
            "component": m.component("cpu_hours"), "type": "cpu_hours", "period": 1,
            "usage": "60.50", "limit": 100, "percent": 60.5
        }]));
        assert!(events(&app, &uuid, "policy_fired").await.is_empty());

        eventually("three warning emails", || async { smtp.mails().len() == 3 }).await;
        let subjects: Vec<String> = smtp.mails().iter().map(|mail| mail.header("Subject").unwrap_or_default()).collect();
        for t in [50, 90, 80] {
            let subject = format!("[meterguard] Consumer Org reached {t}% of a usage limit");
            assert!(subjects.contains(&subject), "{subjects:?}");
        }
        assert!(smtp.mails().iter().all(|mail| mail.recipients == ["pi@example.org"]));
        assert!(smtp.mails()[0].data.contains("CPU hours (cpu_hours): 60.50 hours used of 100 in period Total"));
        eventually("three warning webhooks", || async { hooks.hooks().len() == 3 }).await;
        for hook in hooks.hooks() {
            let body: Value = serde_json::from_slice(&hook.body).unwrap();
            assert_eq!(body["event"], "policy.warning");
            assert_eq!(body["policy_uuid"], uuid.as_str());
        }

        // Over the limit it is upstream's fire; the level stays at the highest threshold.
        usage(&app, &vm, "150").await;
        let fired = get_policy(&app, &uuid).await;
        assert_eq!((fired["has_fired"].clone(), fired["warning_level"].clone()), (json!(true), json!(90)));
        assert_eq!(events(&app, &uuid, "policy_fired").await.len(), 1);
        assert_eq!(events(&app, &uuid, "policy_warning").await.len(), 4);
    }
);

api_test!(
    async fn a_policy_without_notify_actions_warns_by_event_only(app) {
        let m = marketplace(&app).await;
        let p = policy(&app, &m, "request_pausing", 10, json!({"warning_thresholds": [50]})).await;
        let uuid = uuid_of(&p);
        let vm = m.resource(&app, "vm").await;
        usage(&app, &vm, "6").await;
        assert_eq!(events(&app, &uuid, "policy_warning").await.len(), 1);
        assert!(events(&app, &uuid, "policy_notification").await.is_empty());
        // Thresholds changed on the policy are judged at once: now over 50 % of nothing new.
        let patched = app
            .patch(&format!("{POLICIES}{uuid}/"), app.staff(), json!({"warning_thresholds": [50, 55]}))
            .await
            .expect(200);
        assert_eq!(patched["warning_level"], 55);
        assert_eq!(events(&app, &uuid, "policy_warning").await.len(), 2);
    }
);

api_test!(
    async fn hysteresis_fires_once_for_101_99_101_and_resets_at_the_boundary(app) {
        let m = marketplace(&app).await;
        let p = policy(&app, &m, "request_pausing", 100, json!({"reset_below_percent": 90})).await;
        let uuid = uuid_of(&p);
        let vm = m.resource(&app, "vm").await;
        for amount in ["101", "99", "101"] {
            usage(&app, &vm, amount).await;
            assert_eq!(get_policy(&app, &uuid).await["has_fired"], true, "after {amount}");
            assert_eq!(resource(&app, &m, &vm).await["paused"], true, "after {amount}");
        }
        assert_eq!(events(&app, &uuid, "policy_fired").await.len(), 1);
        assert_eq!(events(&app, &uuid, "request_pausing").await.len(), 1);
        let s = status(&app, &uuid).await;
        assert_eq!(s["limits"][0]["reset_below"], "90.00");
        // One hundredth above the boundary keeps it fired; exactly at it, it resets.
        usage(&app, &vm, "90.01").await;
        assert_eq!(get_policy(&app, &uuid).await["has_fired"], true);
        usage(&app, &vm, "90").await;
        assert_eq!(get_policy(&app, &uuid).await["has_fired"], false);
        assert_eq!(resource(&app, &m, &vm).await["paused"], false);
        assert_eq!(events(&app, &uuid, "policy_reset").await.len(), 1);
        // Upstream's default: the status shows the limit itself.
        let upstream = uuid_of(&policy(&app, &m, "request_pausing", 7, json!({})).await);
        assert_eq!(status(&app, &upstream).await["limits"][0]["reset_below"], "7.00");
    }
);

api_test!(
    async fn two_policies_pausing_the_same_resources_share_the_flag(app) {
        let m = marketplace(&app).await;
        let loose = uuid_of(&policy(&app, &m, "request_pausing", 100, json!({})).await);
        let strict = uuid_of(&policy(&app, &m, "request_pausing,request_downscaling", 50, json!({})).await);
        let vm = m.resource(&app, "vm").await;
        let empty = json!({"paused": [], "downscaled": [], "restrict_member_access": []});
        assert_eq!(resource(&app, &m, &vm).await["restrictions"], empty);

        usage(&app, &vm, "150").await;
        let mut both = holders(&app, &m, &vm, "paused").await;
        both.sort();
        let mut expected = vec![loose.clone(), strict.clone()];
        expected.sort();
        assert_eq!(both, expected);
        let r = resource(&app, &m, &vm).await;
        let since = r["restrictions"]["paused"][0]["since"].as_str().unwrap();
        assert!(since.ends_with('Z') && since.len() == 27, "{since}");
        // Nothing of it in the client's attributes.
        assert_eq!(r["attributes"], json!({"name": "vm"}));

        // The loose policy resets; the strict one still holds the pause.
        usage(&app, &vm, "70").await;
        assert_eq!(get_policy(&app, &loose).await["has_fired"], false);
        assert_eq!(resource(&app, &m, &vm).await["paused"], true);
        assert_eq!(holders(&app, &m, &vm, "paused").await, [strict.as_str()]);
        assert!(events(&app, &loose, "reset_pausing").await.is_empty());

        // The last holder lets go: the flag clears.
        usage(&app, &vm, "10").await;
        let r = resource(&app, &m, &vm).await;
        assert_eq!((r["paused"].clone(), r["downscaled"].clone()), (json!(false), json!(false)));
        assert_eq!(r["restrictions"], empty);
        assert_eq!(events(&app, &strict, "reset_pausing").await.len(), 1);

        // Deleting one holder keeps the flag for the other.
        usage(&app, &vm, "150").await;
        app.delete(&format!("{POLICIES}{strict}/"), app.staff()).await.expect(204);
        assert_eq!(resource(&app, &m, &vm).await["paused"], true);
        assert_eq!(holders(&app, &m, &vm, "paused").await, [loose.as_str()]);
        // A downscale only the deleted policy held is cleared with it.
        assert_eq!(resource(&app, &m, &vm).await["downscaled"], false);

        // Dropping the action from a fired policy lets go of its hold.
        let dropped = app
            .patch(&format!("{POLICIES}{loose}/"), app.staff(), json!({"actions": "notify_organization_owners"}))
            .await
            .expect(200);
        assert_eq!(dropped["has_fired"], true);
        let r = resource(&app, &m, &vm).await;
        assert_eq!((r["paused"].clone(), r["restrictions"].clone()), (json!(false), empty.clone()));
        assert_eq!(events(&app, &loose, "reset_pausing").await.len(), 1);
    }
);

api_test!(
    async fn moving_a_policy_and_removing_its_component_let_go_of_its_holds(app) {
        let m = marketplace(&app).await;
        let moved = uuid_of(&policy(&app, &m, "request_pausing", 100, json!({})).await);
        let stays = uuid_of(&policy(&app, &m, "request_pausing", 100, json!({})).await);
        let vm = m.resource(&app, "vm").await;
        usage(&app, &vm, "150").await;
        let other = app.customer("Other Org").await;
        app.patch(&format!("{POLICIES}{moved}/"), app.staff(), json!({"scope": other["url"]})).await.expect(200);
        assert_eq!(resource(&app, &m, &vm).await["paused"], true);
        assert_eq!(holders(&app, &m, &vm, "paused").await, [stays.as_str()]);

        let offering = m.offering["uuid"].as_str().unwrap();
        let remove = format!("/api/marketplace-provider-offerings/{offering}/remove_offering_component/");
        app.post(&remove, app.staff(), json!({"uuid": m.component("cpu_hours")})).await.expect(200);
        assert_eq!(get_policy(&app, &stays).await["has_fired"], false);
        let r = resource(&app, &m, &vm).await;
        assert_eq!((r["paused"].clone(), r["restrictions"]["paused"].clone()), (json!(false), json!([])));
    }
);

api_test!(
    clock = "2026-03-10T12:00:00Z",
    async fn grace_applies_each_action_at_its_due_time(app) {
        let m = marketplace(&app).await;
        let options = json!({
            "request_pausing": {"grace_minutes": 60},
            "block_creation_of_new_resources": {"grace_minutes": 30},
        });
        let p = policy(
            &app, &m, "request_pausing,block_creation_of_new_resources", 100,
            json!({"options": options}),
        )
        .await;
        let uuid = uuid_of(&p);
        let vm = m.resource(&app, "vm").await;
        usage(&app, &vm, "150").await;
        let fired = get_policy(&app, &uuid).await;
        assert_eq!(fired["has_fired"], true);
        assert_eq!(fired["fired_datetime"], "2026-03-10T12:00:00.000000Z");
        assert_eq!(resource(&app, &m, &vm).await["paused"], false);
        assert_eq!(
            status(&app, &uuid).await["pending_actions"],
            json!([
                {"action": "block_creation_of_new_resources", "due": "2026-03-10T12:30:00.000000Z"},
                {"action": "request_pausing", "due": "2026-03-10T13:00:00.000000Z"},
            ])
        );
        // While the block waits, orders are taken.
        app.post("/api/marketplace-orders/", m.owner_token(), m.order_body("early")).await.expect(201);

        app.clock.advance(Duration::minutes(29));
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(events(&app, &uuid, "policy_action_applied").await.is_empty());

        app.clock.advance(Duration::minutes(1));
        eventually("the block applied at 12:30", || async {
            events(&app, &uuid, "policy_action_applied").await.len() == 1
        })
        .await;
        let applied = events(&app, &uuid, "policy_action_applied").await;
        assert_eq!(applied[0]["context"]["action"], "block_creation_of_new_resources");
        assert_eq!(applied[0]["created"], "2026-03-10T12:30:00.000000Z");
        app.post("/api/marketplace-orders/", m.owner_token(), m.order_body("late")).await.expect(400);
        assert_eq!(resource(&app, &m, &vm).await["paused"], false);

        app.clock.advance(Duration::minutes(30));
        eventually("the pause applied at 13:00", || async { resource(&app, &m, &vm).await["paused"] == true }).await;
        let applied = events(&app, &uuid, "policy_action_applied").await;
        assert_eq!(applied.len(), 2);
        assert_eq!(applied[1]["context"]["action"], "request_pausing");
        assert_eq!(status(&app, &uuid).await["pending_actions"], json!([]));
        assert_eq!(holders(&app, &m, &vm, "paused").await, [uuid.as_str()]);
        // Applied once, to both resources (the one ordered early too): later sweeps add nothing.
        assert_eq!(events(&app, &uuid, "request_pausing").await.len(), 2);
        app.clock.advance(Duration::minutes(20));
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(events(&app, &uuid, "policy_action_applied").await.len(), 2);
        assert_eq!(events(&app, &uuid, "request_pausing").await.len(), 2);
        // The reset undoes what ran.
        usage(&app, &vm, "10").await;
        assert_eq!(resource(&app, &m, &vm).await["paused"], false);
        assert!(events(&app, &uuid, "policy_action_canceled").await.is_empty());
    }
);

api_test!(
    clock = "2026-03-10T12:00:00Z",
    async fn grace_is_dropped_when_the_policy_resets_first(app) {
        let m = marketplace(&app).await;
        let options = json!({"request_pausing": {"grace_minutes": 60}, "terminate_resources": {"grace_minutes": 10}});
        let p = policy(&app, &m, "request_pausing,terminate_resources", 100, json!({"options": options})).await;
        let uuid = uuid_of(&p);
        let vm = m.resource(&app, "vm").await;
        usage(&app, &vm, "150").await;
        app.clock.advance(Duration::minutes(5));
        usage(&app, &vm, "50").await;
        assert_eq!(get_policy(&app, &uuid).await["has_fired"], false);
        let canceled: Vec<Value> = events(&app, &uuid, "policy_action_canceled")
            .await
            .iter()
            .map(|e| e["context"]["action"].clone())
            .collect();
        assert_eq!(canceled, [json!("terminate_resources"), json!("request_pausing")]);
        assert_eq!(status(&app, &uuid).await["pending_actions"], json!([]));
        // Nothing ran, so the reset undid nothing.
        assert!(events(&app, &uuid, "reset_pausing").await.is_empty());

        // Past the pause's due time (13:00).
        app.clock.advance(Duration::minutes(56));
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(events(&app, &uuid, "policy_action_applied").await.is_empty());
        let r = resource_as_staff(&app, &vm).await;
        assert_eq!((r["paused"].clone(), r["state"].clone()), (json!(false), json!("OK")));

        // A new crossing waits anew, from its own fire.
        usage(&app, &vm, "150").await;
        let pending = status(&app, &uuid).await["pending_actions"].clone();
        assert_eq!(pending[0], json!({"action": "terminate_resources", "due": "2026-03-10T13:11:00.000000Z"}));
    }
);
