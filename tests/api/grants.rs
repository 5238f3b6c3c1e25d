//! Grants: temporary top-ups of a policy's limit (docs/grants.md).

use crate::api_test;
use crate::fixtures::{
    marketplace, policy_as_staff as get_policy, policy_events as events, role_tokens, staff_cpu_usage as usage,
    uuid_of, Marketplace,
};
use crate::helpers::{spawn_app_with, TestApp};
use crate::sinks::{eventually, SmtpSink};
use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};

const GRANTS: &str = "/api/marketplace-component-usage-grants/";
const POLICIES: &str = "/api/marketplace-customer-component-usage-policies/";
const GRANT_KEYS: [&str; 10] = [
    "uuid",
    "url",
    "policy",
    "component",
    "amount",
    "starts_at",
    "expires_at",
    "reason",
    "created_by_username",
    "created",
];

/// A cpu_hours policy (period Total) of the marketplace's customer with `extra` merged in.
async fn policy(app: &TestApp, m: &Marketplace, limit: i64, extra: Value) -> Value {
    let mut body = json!({
        "scope": m.customer_url(), "actions": "notify_organization_owners",
        "component_limits_set": [{"component": m.component("cpu_hours"), "limit": limit, "period": 1}]
    });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    app.post(POLICIES, app.staff(), body).await.expect(201)
}

fn grant_body(policy: &Value, m: &Marketplace, amount: &str, expires_at: &str) -> Value {
    json!({
        "policy": policy["url"], "component": m.component("cpu_hours"), "amount": amount,
        "expires_at": expires_at, "reason": "launch week"
    })
}

async fn status_row(app: &TestApp, uuid: &str) -> Value {
    app.get(&format!("{POLICIES}{uuid}/status/"), app.staff())
        .await
        .expect(200)["limits"][0]
        .clone()
}

fn uuids(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(uuid_of).collect()
}

api_test!(
    async fn staff_create_and_delete_grants_that_their_policys_readers_see(app) {
        let m = marketplace(&app).await;
        let tokens = role_tokens(&app, &m).await;
        let p = policy(&app, &m, 100, json!({})).await;
        let body = grant_body(&p, &m, "50.5", "2099-01-01T00:00:00Z");

        // Writes are staff's, refused before the body is read.
        app.post(GRANTS, &tokens.owner, body.clone()).await.expect(403);
        let created = app.post(GRANTS, app.staff(), body.clone()).await.expect(201);
        let keys: Vec<&str> = created.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, GRANT_KEYS);
        let uuid = uuid_of(&created);
        assert_eq!(created["url"], app.url(&format!("{GRANTS}{uuid}/")));
        assert_eq!(created["policy"], p["url"]);
        assert_eq!(created["component"], m.component("cpu_hours"));
        assert_eq!(created["amount"], "50.50");
        assert_eq!(created["starts_at"], created["created"]);
        assert_eq!(created["expires_at"], "2099-01-01T00:00:00.000000Z");
        assert_eq!(created["reason"], "launch week");
        assert_eq!(created["created_by_username"], "staff");
        let later = app
            .post(GRANTS, app.staff(), grant_body(&p, &m, "1", "2098-01-01T00:00:00Z"))
            .await
            .expect(201);

        // Staff, support and the customer's role holders read; anyone else sees nothing.
        let detail = format!("{GRANTS}{uuid}/");
        for token in [app.staff(), &tokens.support, &tokens.owner, &tokens.manager, &tokens.customer_support] {
            assert_eq!(app.get(&detail, token).await.expect(200), created);
            let listed = app.get(GRANTS, token).await.expect(200);
            assert_eq!(uuids(&listed), [uuid_of(&later), uuid.clone()], "newest first");
        }
        for token in [&tokens.nobody, &tokens.project_member] {
            app.get(&detail, token).await.expect(404);
            assert_eq!(app.get(GRANTS, token).await.expect(200), json!([]));
            app.delete(&detail, token).await.expect(403);
        }
        app.delete(&detail, &tokens.owner).await.expect(403);

        // No update.
        for method in [Method::PUT, Method::PATCH] {
            let reply = app.call(method, &detail, Some(app.staff()), Some(body.clone())).await;
            assert_eq!(reply.status.as_u16(), 405);
        }

        app.delete(&detail, app.staff()).await.expect(204);
        app.get(&detail, app.staff()).await.expect(404);
        app.delete(&detail, app.staff()).await.expect(404);
        assert_eq!(uuids(&app.get(GRANTS, app.staff()).await.expect(200)), [uuid_of(&later)]);
        // Deleting the policy deletes its grants.
        app.delete(&format!("{POLICIES}{}/", uuid_of(&p)), app.staff()).await.expect(204);
        assert_eq!(app.get(GRANTS, app.staff()).await.expect(200), json!([]));
    }
);

api_test!(
    async fn the_list_filters_by_policy_customer_component_and_activity(app) {
        let m = marketplace(&app).await;
        let p = policy(&app, &m, 100, json!({})).await;
        let other_customer = app.customer("other").await;
        let other = app
            .post(
                POLICIES,
                app.staff(),
                json!({
                    "scope": other_customer["url"], "actions": "notify_organization_owners",
                    "component_limits_set": [{"component": m.component("storage_gb"), "limit": 5, "period": 2}]
                }),
            )
            .await
            .expect(201);
        let active = app
            .post(GRANTS, app.staff(), grant_body(&p, &m, "1", "2099-01-01T00:00:00Z"))
            .await
            .expect(201);
        let mut future = grant_body(&p, &m, "2", "2099-01-01T00:00:00Z");
        future["starts_at"] = json!("2098-01-01T00:00:00Z");
        let future = app.post(GRANTS, app.staff(), future).await.expect(201);
        let mut ram = grant_body(&other, &m, "3", "2099-01-01T00:00:00Z");
        ram["component"] = json!(m.component("storage_gb"));
        let ram = app.post(GRANTS, app.staff(), ram).await.expect(201);

        let app = &app;
        let listed = |query: String| async move { uuids(&app.get(&format!("{GRANTS}?{query}"), app.staff()).await.expect(200)) };
        let (a, f, r) = (uuid_of(&active), uuid_of(&future), uuid_of(&ram));
        assert_eq!(listed(format!("policy_uuid={}", uuid_of(&p))).await, [f.clone(), a.clone()]);
        assert_eq!(listed(format!("customer_uuid={}", m.customer_uuid())).await, [f.clone(), a.clone()]);
        assert_eq!(listed(format!("component_uuid={}", m.component("storage_gb"))).await, std::slice::from_ref(&r));
        assert_eq!(listed("active=true".into()).await, [r.clone(), a.clone()]);
        assert_eq!(listed("active=false".into()).await, std::slice::from_ref(&f));
        app.get(&format!("{GRANTS}?active=maybe"), app.staff()).await.expect(400);
        app.get(&format!("{GRANTS}?policy_uuid=nope"), app.staff()).await.expect(400);
    }
);

api_test!(
    async fn bad_bodies_get_drf_errors(app) {
        let m = marketplace(&app).await;
        let p = policy(&app, &m, 100, json!({})).await;
        let refused = |body: Value| async { app.post(GRANTS, app.staff(), body).await.expect(400) };
        let required = json!(["This field is required."]);
        assert_eq!(
            refused(json!({})).await,
            json!({"policy": required, "component": required, "amount": required,
                   "expires_at": required, "reason": required})
        );
        let valid = grant_body(&p, &m, "10", "2099-01-01T00:00:00Z");
        let with = |field: &str, value: Value| {
            let mut body = valid.clone();
            body[field] = value;
            body
        };
        let cases = [
            (with("policy", json!("nonsense")), json!({"policy": ["Invalid hyperlink - No URL match."]})),
            (
                with("policy", json!(app.url(&format!("{POLICIES}{}/", "0".repeat(32))))),
                json!({"policy": ["Invalid hyperlink - Object does not exist."]}),
            ),
            (
                with("component", json!(m.component("storage_gb"))),
                json!({"component": ["The policy has no limit on this component."]}),
            ),
            (with("component", json!("x")), json!({"component": ["Must be a valid UUID."]})),
            (with("amount", json!("0")), json!({"amount": ["Ensure this value is greater than or equal to 0.01."]})),
            (with("amount", json!(-1)), json!({"amount": ["Ensure this value is greater than or equal to 0."]})),
            (with("amount", json!("1.005")), json!({"amount": ["Ensure that there are no more than 2 decimal places."]})),
            (
                with("starts_at", json!("2099-01-01T00:00:00Z")),
                json!({"expires_at": ["Ensure this value is after starts_at."]}),
            ),
            (
                with("expires_at", json!("2000-01-01T00:00:00Z")),
                json!({"expires_at": ["Ensure this value is after starts_at."]}),
            ),
            (
                {
                    let mut past = with("starts_at", json!("1999-01-01T00:00:00Z"));
                    past["expires_at"] = json!("2000-01-01T00:00:00Z");
                    past
                },
                json!({"expires_at": ["Ensure this value is in the future."]}),
            ),
            (
                with("expires_at", json!("soon")),
                json!({"expires_at": ["Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."]}),
            ),
            (with("reason", json!("  ")), json!({"reason": ["This field may not be blank."]})),
            (with("reason", Value::Null), json!({"reason": ["This field may not be null."]})),
        ];
        for (body, errors) in cases {
            assert_eq!(refused(body.clone()).await, errors, "{body}");
        }
        // An unknown policy is reported with the other errors, first.
        let mut both = with("policy", json!(app.url(&format!("{POLICIES}{}/", "0".repeat(32)))));
        both["amount"] = json!("0");
        let errors = refused(both).await;
        let fields: Vec<&str> = errors.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(fields, ["policy", "amount"]);
        assert_eq!(app.get(GRANTS, app.staff()).await.expect(200), json!([]));
    }
);

api_test!(
    async fn a_grant_lifts_a_fired_policy_and_deleting_it_fires_it_again(app) {
        let m = marketplace(&app).await;
        let p = policy(&app, &m, 100, json!({})).await;
        let uuid = uuid_of(&p);
        let vm = m.resource(&app, "vm").await;
        usage(&app, &vm, "150").await;
        assert_eq!(get_policy(&app, &uuid).await["has_fired"], true);

        let grant = app
            .post(GRANTS, app.staff(), grant_body(&p, &m, "60", "2099-01-01T00:00:00Z"))
            .await
            .expect(201);
        assert_eq!(get_policy(&app, &uuid).await["has_fired"], false);
        assert_eq!(events(&app, &uuid, "policy_reset").await.len(), 1);
        let row = status_row(&app, &uuid).await;
        let figures = ["usage", "limit", "granted", "effective_limit", "remaining", "percent", "over"].map(|k| row[k].clone());
        assert_eq!(figures, [json!("150.00"), json!(100), json!("60.00"), json!("160.00"), json!("10.00"), json!(93.75), json!(false)]);
        let created = events(&app, &uuid, "grant_created").await;
        assert_eq!(created.len(), 1);
        let context = &created[0]["context"];
        assert_eq!(
            [&context["grant_uuid"], &context["type"], &context["amount"], &context["reason"], &context["customer_uuid"]],
            [&grant["uuid"], &json!("cpu_hours"), &json!("60.00"), &json!("launch week"), &json!(m.customer_uuid())]
        );
        assert_eq!([&context["starts_at"], &context["expires_at"]], [&grant["starts_at"], &grant["expires_at"]]);
        // Visible as the policy's events are.
        let path = format!("/api/events/?event_type=grant_created&policy_uuid={uuid}");
        assert_eq!(app.get(&path, m.owner_token()).await.expect(200).as_array().unwrap().len(), 1);

        // Over the effective limit, the fire names both limits.
        usage(&app, &vm, "170").await;
        let fired = events(&app, &uuid, "policy_fired").await;
        assert_eq!(fired.len(), 2);
        let exceeded = &fired[1]["context"]["exceeded"][0];
        assert_eq!((exceeded["limit"].clone(), exceeded["effective_limit"].clone()), (json!(100), json!("160.00")));
        assert!(fired[0]["context"]["exceeded"][0].get("effective_limit").is_none());
        usage(&app, &vm, "150").await;
        assert_eq!(get_policy(&app, &uuid).await["has_fired"], false);

        app.delete(&format!("{GRANTS}{}/", uuid_of(&grant)), app.staff()).await.expect(204);
        assert_eq!(get_policy(&app, &uuid).await["has_fired"], true);
        assert_eq!(events(&app, &uuid, "policy_fired").await.len(), 3);
        let deleted = events(&app, &uuid, "grant_deleted").await;
        assert_eq!(deleted[0]["context"]["grant_uuid"], grant["uuid"]);
        let row = status_row(&app, &uuid).await;
        assert_eq!((row["granted"].clone(), row["effective_limit"].clone()), (json!("0.00"), json!("100.00")));
    }
);

api_test!(
    async fn warnings_are_judged_against_the_effective_limit(app) {
        let m = marketplace(&app).await;
        let p = policy(&app, &m, 100, json!({"warning_thresholds": [80]})).await;
        let uuid = uuid_of(&p);
        app.post(GRANTS, app.staff(), grant_body(&p, &m, "100", "2099-01-01T00:00:00Z"))
            .await
            .expect(201);
        let vm = m.resource(&app, "vm").await;
        // 150 is over the policy's own limit, but 75% of the effective 200.
        usage(&app, &vm, "150").await;
        let policy = get_policy(&app, &uuid).await;
        assert_eq!((policy["has_fired"].clone(), policy["warning_level"].clone()), (json!(false), Value::Null));
        assert!(events(&app, &uuid, "policy_warning").await.is_empty());
        usage(&app, &vm, "170").await;
        let warnings = events(&app, &uuid, "policy_warning").await;
        assert_eq!(warnings.len(), 1);
        let row = &warnings[0]["context"]["exceeded"][0];
        assert_eq!(
            [row["limit"].clone(), row["effective_limit"].clone(), row["percent"].clone()],
            [json!(100), json!("200.00"), json!(85.0)]
        );
    }
);

api_test!(
    clock = "2026-03-10T12:00:00Z",
    async fn a_grant_that_expires_with_usage_over_the_limit_fires_the_policy_at_the_expiry(app) {
        let m = marketplace(&app).await;
        let p = policy(&app, &m, 100, json!({})).await;
        let uuid = uuid_of(&p);
        let grant = app
            .post(GRANTS, app.staff(), grant_body(&p, &m, "100", "2026-03-10T13:00:00Z"))
            .await
            .expect(201);
        let vm = m.resource(&app, "vm").await;
        usage(&app, &vm, "150").await;
        assert_eq!(get_policy(&app, &uuid).await["has_fired"], false);

        app.clock.advance(Duration::minutes(59));
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(get_policy(&app, &uuid).await["has_fired"], false);
        assert!(events(&app, &uuid, "grant_expired").await.is_empty());

        // The scheduler wakes a little after the expiry; the policy fires as of the expiry.
        app.clock.advance(Duration::minutes(3));
        eventually("the policy fired at the expiry", || async {
            get_policy(&app, &uuid).await["has_fired"] == true
        })
        .await;
        assert_eq!(get_policy(&app, &uuid).await["fired_datetime"], "2026-03-10T13:00:00.000000Z");
        let expired = events(&app, &uuid, "grant_expired").await;
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0]["created"], "2026-03-10T13:00:00.000000Z");
        assert_eq!(expired[0]["context"]["grant_uuid"], grant["uuid"]);
        let fired = events(&app, &uuid, "policy_fired").await;
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0]["created"], "2026-03-10T13:00:00.000000Z");
        assert_eq!(status_row(&app, &uuid).await["granted"], "0.00");
        // Processed once: later wakes add nothing.
        app.clock.advance(Duration::minutes(15));
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(events(&app, &uuid, "grant_expired").await.len(), 1);
        assert_eq!(events(&app, &uuid, "policy_fired").await.len(), 1);

        // A dry run of the policy as it is replays its grant: the fire comes at the expiry,
        // caused by it, as the policy's own event records it (docs/dry-run.md §3).
        let dry = app
            .post(&format!("{POLICIES}{uuid}/dry_run/"), app.staff(), json!({}))
            .await
            .expect(200);
        let fires: Vec<&Value> = dry["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["transition"] == "fire")
            .collect();
        assert_eq!(fires.len(), 1, "{dry}");
        assert_eq!(fires[0]["at"], fired[0]["created"], "{dry}");
        assert_eq!(
            fires[0]["cause"],
            json!({"grant": grant["uuid"], "boundary": "expiry"}),
            "{dry}"
        );
        assert_eq!(dry["would_fire_now"], true);
    }
);

api_test!(
    clock = "2026-03-10T12:00:00Z",
    async fn a_grant_that_starts_later_lifts_the_policy_at_its_start(app) {
        let m = marketplace(&app).await;
        let p = policy(&app, &m, 100, json!({})).await;
        let uuid = uuid_of(&p);
        let vm = m.resource(&app, "vm").await;
        usage(&app, &vm, "150").await;
        assert_eq!(get_policy(&app, &uuid).await["has_fired"], true);

        let mut body = grant_body(&p, &m, "100", "2026-03-10T14:00:00Z");
        body["starts_at"] = json!("2026-03-10T12:30:00Z");
        app.post(GRANTS, app.staff(), body).await.expect(201);
        assert_eq!(get_policy(&app, &uuid).await["has_fired"], true);
        assert_eq!(status_row(&app, &uuid).await["granted"], "0.00");

        app.clock.advance(Duration::minutes(30));
        eventually("the policy reset at the start", || async {
            get_policy(&app, &uuid).await["has_fired"] == false
        })
        .await;
        let reset = events(&app, &uuid, "policy_reset").await;
        assert_eq!(reset.len(), 1);
        assert_eq!(reset[0]["created"], "2026-03-10T12:30:00.000000Z");
        assert_eq!(status_row(&app, &uuid).await["effective_limit"], "200.00");

        // In two steps, each within the staff token's idle lifetime.
        app.clock.advance(Duration::minutes(60));
        assert_eq!(get_policy(&app, &uuid).await["has_fired"], false);
        app.clock.advance(Duration::minutes(30));
        eventually("the policy fired again at the expiry", || async {
            get_policy(&app, &uuid).await["has_fired"] == true
        })
        .await;
        assert_eq!(get_policy(&app, &uuid).await["fired_datetime"], "2026-03-10T14:00:00.000000Z");
    }
);

api_test!(
    backend,
    async fn an_email_names_the_effective_limit_of_a_granted_row(backend) {
        let smtp = SmtpSink::start().await;
        let url = smtp.url();
        let app = spawn_app_with(backend, |s| s.smtp_url = Some(url)).await;
        let m = marketplace(&app).await;
        let p = policy(&app, &m, 100, json!({})).await;
        app.post(GRANTS, app.staff(), grant_body(&p, &m, "60", "2099-01-01T00:00:00Z"))
            .await
            .expect(201);
        let vm = m.resource(&app, "vm").await;
        usage(&app, &vm, "170").await;
        eventually("the owner's email", || async { smtp.mails().len() == 1 }).await;
        // Quoted-printable: long lines are broken with a trailing `=`.
        let text = smtp.mails()[0].data.replace("=\r\n", "").replace("=\n", "");
        assert!(
            text.contains("CPU hours (cpu_hours): 170.00 hours used of 160.00 (100 + 60.00 granted) in period Total"),
            "{text}"
        );
    }
);
