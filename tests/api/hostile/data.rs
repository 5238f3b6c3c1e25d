//! Hostile inputs: data clients write. Client JSON is stored as sent and never steers
//! enforcement; objects a caller may not see look exactly like missing ones; secrets stay out of
//! events; private offerings stay private; emails, NUL characters and nulls are refused as DRF.

use crate::api_test;
use crate::fixtures::{marketplace, Marketplace};
use crate::helpers::{database_url, hyphenate, spawn_app_with, Backend, TestApp};
use crate::sinks::{eventually, WebhookSink};
use serde_json::{json, Value};

const POLICIES: &str = "/api/marketplace-customer-component-usage-policies/";
const SET_USAGE: &str = "/api/marketplace-component-usages/set_usage/";

async fn report(app: &TestApp, m: &Marketplace, resource: &str, amount: &str) {
    let body = json!({"resource": resource, "usages": [{"type": "cpu_hours", "amount": amount}]});
    app.post(SET_USAGE, m.provider_token(), body).await.expect(201);
}

async fn flag_policy(app: &TestApp, customer_url: &str, component: &str) -> String {
    let body = json!({
        "scope": customer_url, "actions": "request_pausing,request_downscaling,restrict_members",
        "component_limits_set": [{"component": component, "limit": 100, "period": 1}]
    });
    let p = app.post(POLICIES, app.staff(), body).await.expect(201);
    p["uuid"].as_str().expect("policy uuid").to_string()
}

async fn fired(app: &TestApp, policy: &str) -> Value {
    app.get(&format!("{POLICIES}{policy}/"), app.staff()).await.expect(200)["has_fired"].clone()
}

/// A resource ordered by a project admin with crafted attributes, taken to OK.
async fn crafted_resource(app: &TestApp, m: &Marketplace, admin: &str, attributes: &Value) -> (String, String) {
    let mut body = m.order_body("ignored");
    body["attributes"] = attributes.clone();
    let order = app.post("/api/marketplace-orders/", admin, body).await.expect(201);
    assert_eq!(&order["attributes"], attributes);
    let uuid = order["uuid"].as_str().expect("order uuid").to_string();
    for (step, token) in [
        ("approve_by_consumer", admin),
        ("approve_by_provider", m.provider_token()),
        ("set_state_done", m.provider_token()),
    ] {
        let path = format!("/api/marketplace-orders/{uuid}/{step}/");
        app.post(&path, token, json!({})).await.expect(200);
    }
    let resource = order["marketplace_resource_uuid"]
        .as_str()
        .expect("resource")
        .to_string();
    (uuid, resource)
}

api_test!(
    async fn crafted_attributes_never_stop_enforcement(app) {
        let m = marketplace(&app).await;
        let (admin_uuid, admin) = app.user("padmin").await;
        app.grant("projects", m.project["uuid"].as_str().unwrap(), &admin_uuid, "PROJECT.ADMIN").await;
        let policy = flag_policy(&app, m.customer_url(), &m.component("cpu_hours")).await;

        // Another customer, with its own policy and resource, must keep working throughout.
        let other = app.customer("Bystander").await;
        let other_project = app.project(other["url"].as_str().unwrap(), "Other").await;
        let other_resource = m.resource_in(&app, &other_project["url"], app.staff(), "other-vm").await;
        let other_policy = flag_policy(&app, other["url"].as_str().unwrap(), &m.component("cpu_hours")).await;

        let crafted = [
            json!({"name": "x", "_policy_attribution": 1}),
            json!({"name": "y", "_policy_attribution": {"paused": 5, "downscaled": [1], "restrict_member_access": "z"}}),
            json!({"name": "z", "_policy_attribution": {"paused": {"policy_uuid": other_policy}}}),
        ];
        let mut resources = vec![];
        for attributes in &crafted {
            let (order, resource) = crafted_resource(&app, &m, &admin, attributes).await;
            resources.push((order, resource, attributes));
        }

        // Fire: every flag is set, and the attributes stay exactly as sent.
        report(&app, &m, &resources[0].1, "150").await;
        assert_eq!(fired(&app, &policy).await, json!(true));
        for (order, resource, attributes) in &resources {
            let r = app.get(&format!("/api/marketplace-resources/{resource}/"), &admin).await.expect(200);
            assert_eq!((&r["paused"], &r["downscaled"], &r["restrict_member_access"]), (&json!(true), &json!(true), &json!(true)));
            assert_eq!(&r["attributes"], *attributes);
            let o = app.get(&format!("/api/marketplace-orders/{order}/"), &admin).await.expect(200);
            assert_eq!(&o["attributes"], *attributes);
        }
        let p = app.get(&format!("{POLICIES}{policy}/"), app.staff()).await.expect(200);
        assert_eq!(p["affected_resources_count"], 3);

        // Another customer's reports keep firing and resetting its own policy.
        report(&app, &m, &other_resource, "500").await;
        assert_eq!(fired(&app, &other_policy).await, json!(true));
        report(&app, &m, &other_resource, "1").await;
        assert_eq!(fired(&app, &other_policy).await, json!(false));

        // Reset: every flag clears, the attributes are still exactly as sent.
        report(&app, &m, &resources[0].1, "10").await;
        assert_eq!(fired(&app, &policy).await, json!(false));
        for (_, resource, attributes) in &resources {
            let r = app.get(&format!("/api/marketplace-resources/{resource}/"), &admin).await.expect(200);
            assert_eq!((&r["paused"], &r["downscaled"], &r["restrict_member_access"]), (&json!(false), &json!(false), &json!(false)));
            assert_eq!(&r["attributes"], *attributes);
        }

        // And it fires again: nothing was left half-done.
        report(&app, &m, &resources[1].1, "200").await;
        assert_eq!(fired(&app, &policy).await, json!(true));
        let r = app.get(&format!("/api/marketplace-resources/{}/", resources[2].1), &admin).await.expect(200);
        assert_eq!(r["paused"], json!(true));
        // Deleting the fired policy releases its flags.
        app.delete(&format!("{POLICIES}{policy}/"), app.staff()).await.expect(204);
        let r = app.get(&format!("/api/marketplace-resources/{}/", resources[2].1), &admin).await.expect(200);
        assert_eq!((&r["paused"], &r["attributes"]), (&json!(false), resources[2].2));
    }
);

api_test!(
    backend,
    async fn webhook_secrets_never_reach_events(backend) {
        let hooks = WebhookSink::start().await;
        hooks.fail_next(1000);
        // One that answers 500, one that refuses the connection (whose error names the URL).
        let urls = vec![
            format!("{}?secret=hunter2-answering", hooks.url),
            "http://127.0.0.1:9/refused/hunter2-path?secret=hunter2-refused".to_string(),
        ];
        let app = spawn_app_with(backend, |s| s.webhook_urls = urls).await;
        let m = marketplace(&app).await;
        let body = json!({
            "scope": m.customer_url(), "actions": "notify_organization_owners",
            "component_limits_set": [{"component": m.component("cpu_hours"), "limit": 100, "period": 1}]
        });
        let policy = app.post(POLICIES, app.staff(), body).await.expect(201)["uuid"].as_str().unwrap().to_string();
        let vm = m.resource(&app, "vm").await;
        report(&app, &m, &vm, "150").await;

        // The customer's owner reads the failures: each names its webhook by place and host.
        let failed = format!("/api/events/?event_type=notification_delivery_failed&policy_uuid={policy}");
        eventually("both webhooks given up on", || async {
            app.get(&failed, m.owner_token()).await.expect(200).as_array().unwrap().len() == 2
        })
        .await;
        let events = app.get(&failed, m.owner_token()).await.expect(200).to_string();
        assert!(!events.contains("hunter2"), "a webhook secret reached an event: {events}");
        assert!(!events.contains("/refused") && !events.contains("/hook"), "a webhook path reached an event: {events}");
        assert!(events.contains("webhook #1 (127.0.0.1): HTTP 500"), "{events}");
        assert!(events.contains("webhook #2 (127.0.0.1)"), "{events}");
        let all = app.get("/api/events/?page_size=300", app.staff()).await.expect(200).to_string();
        assert!(!all.contains("hunter2"), "a webhook secret reached an event: {all}");
    }
);

api_test!(
    async fn null_characters_and_null_amounts_are_refused_as_drf_does(app) {
        let m = marketplace(&app).await;
        let nul = format!("{}\u{0}", m.customer_url());
        let r = app.post("/api/projects/", app.staff(), json!({"customer": nul, "name": "p"})).await.expect(400);
        assert_eq!(r, json!({"customer": ["Null characters are not allowed."]}));
        let r = app.post("/api/projects/", app.staff(), json!({"customer": m.customer_url(), "name": "a\u{0}b"})).await.expect(400);
        assert_eq!(r, json!({"name": ["Null characters are not allowed."]}));
        let mut order = m.order_body("vm");
        order["project"] = json!(format!("{}\u{0}", m.project["url"].as_str().unwrap()));
        let r = app.post("/api/marketplace-orders/", m.owner_token(), order).await.expect(400);
        assert_eq!(r, json!({"project": ["Null characters are not allowed."]}));
        let body = json!({"scope": nul, "actions": "notify_organization_owners", "component_limits_set": []});
        let r = app.post(POLICIES, app.staff(), body).await.expect(400);
        assert_eq!(r["scope"], json!(["Null characters are not allowed."]));
        let projects = app.get("/api/projects/", app.staff()).await.expect(200);
        assert_eq!(projects.as_array().unwrap().len(), 1, "nothing was created");

        let vm = m.resource(&app, "vm").await;
        let body = json!({"resource": vm, "usages": [{"type": "cpu_hours", "amount": null}]});
        let r = app.post(SET_USAGE, m.provider_token(), body).await.expect(400);
        assert_eq!(r, json!({"usages": [{"amount": ["This field may not be null."]}]}));
        let body = json!({"resource": vm, "usages": [{"type": null, "amount": "1"}]});
        let r = app.post(SET_USAGE, m.provider_token(), body).await.expect(400);
        assert_eq!(r, json!({"usages": [{"type": ["This field may not be null."]}]}));
        let usages = app.get("/api/marketplace-component-usages/", app.staff()).await.expect(200);
        assert_eq!(usages, json!([]), "nothing was written");
    }
);

api_test!(
    async fn one_email_address_per_field(app) {
        let m = marketplace(&app).await;
        for bad in ["a@b.c,d@e.f", "a@b.co, d@e.fg", "a@b.co;d@e.fg", "Name <a@b.co>", "a@b..co"] {
            let body = json!({"username": "joe", "email": bad});
            let r = app.post("/api/users/", app.staff(), body).await.expect(400);
            assert_eq!(r, json!({"email": ["Enter a valid email address."]}), "{bad}");
            let r = app.patch(&format!("/api/customers/{}/", m.customer_uuid()), app.staff(), json!({"email": bad})).await.expect(400);
            assert_eq!(r, json!({"email": ["Enter a valid email address."]}), "{bad}");
            if bad.contains(',') {
                // Commas separate addresses in notify_external_user, by design.
                continue;
            }
            let body = json!({
                "scope": m.customer_url(), "actions": "notify_external_user",
                "options": {"notify_external_user": format!("ok@example.org, {bad}")},
                "component_limits_set": [{"component": m.component("cpu_hours"), "limit": 1, "period": 1}]
            });
            let r = app.post(POLICIES, app.staff(), body).await.expect(400);
            assert_eq!(r, json!({"options": ["Options for notify_external_user are invalid."]}), "{bad}");
        }
        let users = app.get("/api/users/?page_size=300", app.staff()).await.expect(200);
        assert!(users.as_array().unwrap().iter().all(|u| u["username"] != "joe"), "no user was created");
        // Several addresses, each one valid, are what notify_external_user takes.
        let body = json!({
            "scope": m.customer_url(), "actions": "notify_external_user",
            "options": {"notify_external_user": "a@example.org, b.c+d@mail.example.com"},
            "component_limits_set": [{"component": m.component("cpu_hours"), "limit": 1, "period": 1}]
        });
        app.post(POLICIES, app.staff(), body).await.expect(201);
        app.post("/api/users/", app.staff(), json!({"username": "joe", "email": "joe@example.org"})).await.expect(201);
    }
);

const MISSING: &str = "0123456789abcdef0123456789abcdef";

/// The status and body of a reply, to compare an invisible object's answer with a missing one's.
async fn answer(app: &TestApp, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let reply = app.call(method, path, Some(token), body).await;
    (reply.status.as_u16(), reply.body)
}

/// Replaces the uuid in every string of `body` (hyperlinks too).
fn swap_uuid(body: &Value, from: &str, to: &str) -> Value {
    serde_json::from_str(&body.to_string().replace(from, to)).expect("json")
}

api_test!(
    async fn an_invisible_object_answers_as_a_missing_one(app) {
        let m = marketplace(&app).await;
        // Someone else's customer, project, resource and order, none of which the owner sees.
        let other = app.customer("Hidden Org").await;
        let other_uuid = other["uuid"].as_str().unwrap().to_string();
        let other_project = app.project(other["url"].as_str().unwrap(), "Hidden").await;
        let other_project_uuid = other_project["uuid"].as_str().unwrap().to_string();
        let other_resource = m.resource_in(&app, &other_project["url"], app.staff(), "hidden-vm").await;
        let mut order = m.order_body("hidden-2");
        order["project"] = other_project["url"].clone();
        let other_order = app.post("/api/marketplace-orders/", app.staff(), order).await.expect(201)["uuid"]
            .as_str()
            .unwrap()
            .to_string();
        let owner = m.owner_token();

        // References in a body: 400 "Object does not exist." either way.
        let bodies: Vec<(&str, Value, &str)> = vec![
            ("/api/projects/", json!({"customer": other["url"], "name": "p"}), other_uuid.as_str()),
            (
                "/api/marketplace-orders/",
                {
                    let mut b = m.order_body("x");
                    b["project"] = other_project["url"].clone();
                    b
                },
                other_project_uuid.as_str(),
            ),
            (SET_USAGE, json!({"resource": other_resource, "usages": [{"type": "cpu_hours", "amount": "1"}]}), other_resource.as_str()),
        ];
        for (path, body, uuid) in bodies {
            let invisible = answer(&app, reqwest::Method::POST, path, owner, Some(body.clone())).await;
            let missing = answer(&app, reqwest::Method::POST, path, owner, Some(swap_uuid(&body, uuid, MISSING))).await;
            assert_eq!(invisible.0, 400, "{path}: {invisible:?}");
            let invisible_text = invisible.1.to_string().replace(uuid, MISSING);
            let invisible_text = invisible_text.replace(&hyphenate(uuid), &hyphenate(MISSING));
            assert_eq!((invisible.0, invisible_text), (missing.0, missing.1.to_string()), "{path}");
        }
        let project = app.post("/api/projects/", owner, json!({"customer": other["url"], "name": "p"})).await.expect(400);
        assert_eq!(project, json!({"customer": ["Invalid hyperlink - Object does not exist."]}));

        // An offering naming a provider customer the caller cannot see.
        let hidden_provider = app.customer("Hidden Provider").await;
        app.post("/api/marketplace-service-providers/", app.staff(), json!({"customer": hidden_provider["url"]})).await.expect(201);
        let categories = app.get("/api/marketplace-categories/", app.staff()).await.expect(200);
        let offering = json!({"name": "O", "type": "Marketplace.Basic", "category": categories[0]["url"],
                              "customer": hidden_provider["url"]});
        let hidden_uuid = hidden_provider["uuid"].as_str().unwrap();
        let invisible = answer(&app, reqwest::Method::POST, "/api/marketplace-provider-offerings/", m.provider_token(), Some(offering.clone())).await;
        let missing = answer(&app, reqwest::Method::POST, "/api/marketplace-provider-offerings/", m.provider_token(), Some(swap_uuid(&offering, hidden_uuid, MISSING))).await;
        assert_eq!(invisible, (400, json!({"customer": ["Invalid hyperlink - Object does not exist."]})));
        assert_eq!(invisible, missing);
        // Registering it as a provider (already registered) or another hidden customer (not yet).
        for hidden in [hidden_provider["url"].clone(), other["url"].clone()] {
            let uuid = hidden.as_str().unwrap().trim_end_matches('/').rsplit('/').next().unwrap().to_string();
            let body = json!({"customer": hidden});
            let invisible = answer(&app, reqwest::Method::POST, "/api/marketplace-service-providers/", owner, Some(body.clone())).await;
            let missing = answer(&app, reqwest::Method::POST, "/api/marketplace-service-providers/", owner, Some(swap_uuid(&body, &uuid, MISSING))).await;
            assert_eq!(invisible, (400, json!({"customer": ["Invalid hyperlink - Object does not exist."]})));
            assert_eq!(invisible, missing);
        }

        // References in a path: 404 either way, for reads and for writes.
        let paths = [
            (reqwest::Method::GET, format!("/api/customers/{other_uuid}/"), other_uuid.clone()),
            (reqwest::Method::GET, format!("/api/projects/{other_project_uuid}/"), other_project_uuid.clone()),
            (reqwest::Method::PATCH, format!("/api/projects/{other_project_uuid}/"), other_project_uuid.clone()),
            (reqwest::Method::POST, format!("/api/projects/{other_project_uuid}/add_user/"), other_project_uuid.clone()),
            (reqwest::Method::GET, format!("/api/marketplace-resources/{other_resource}/"), other_resource.clone()),
            (reqwest::Method::PATCH, format!("/api/marketplace-resources/{other_resource}/"), other_resource.clone()),
            (reqwest::Method::POST, format!("/api/marketplace-resources/{other_resource}/terminate/"), other_resource.clone()),
            (reqwest::Method::GET, format!("/api/marketplace-orders/{other_order}/"), other_order.clone()),
            (reqwest::Method::POST, format!("/api/marketplace-orders/{other_order}/approve_by_consumer/"), other_order.clone()),
            (reqwest::Method::POST, format!("/api/marketplace-orders/{other_order}/cancel/"), other_order.clone()),
        ];
        for (method, path, uuid) in paths {
            let body = (method != reqwest::Method::GET).then(|| json!({"name": "n", "user": MISSING, "role": "PROJECT.ADMIN"}));
            let invisible = answer(&app, method.clone(), &path, owner, body.clone()).await;
            let missing = answer(&app, method.clone(), &path.replace(&uuid, MISSING), owner, body).await;
            assert_eq!(invisible.0, 404, "{method} {path}: {invisible:?}");
            assert_eq!(invisible, missing, "{method} {path}");
        }
    }
);

api_test!(
    async fn private_offerings_are_seen_and_ordered_only_by_their_customer_and_staff(app) {
        let m = marketplace(&app).await;
        let provider_url = m.offering["customer"].clone();
        let categories = app.get("/api/marketplace-categories/", app.staff()).await.expect(200);
        let private = app
            .post(
                "/api/marketplace-provider-offerings/",
                app.staff(),
                json!({"name": "Private", "type": "Marketplace.Basic", "category": categories[0]["url"],
                       "customer": provider_url, "shared": false,
                       "components": [{"type": "cpu_hours", "name": "CPU", "billing_type": "usage", "measured_unit": "h"}],
                       "plans": [{"name": "Default"}]}),
            )
            .await
            .expect(201);
        let uuid = private["uuid"].as_str().unwrap().to_string();
        let plan = private["plans"][0]["uuid"].as_str().unwrap().to_string();
        app.post(&format!("/api/marketplace-provider-offerings/{uuid}/activate/"), app.staff(), json!({})).await.expect(200);
        let public = format!("/api/marketplace-public-offerings/{uuid}/");
        let listed = |list: &Value| list.as_array().unwrap().iter().any(|o| o["uuid"] == uuid.as_str());

        // The consumer's owner holds no role on the provider: the offering looks missing.
        let owner = m.owner_token();
        assert!(!listed(&app.get("/api/marketplace-public-offerings/", owner).await.expect(200)));
        for path in [public.clone(), format!("{public}plans/"), format!("{public}plans/{plan}/")] {
            let invisible = answer(&app, reqwest::Method::GET, &path, owner, None).await;
            let missing = answer(&app, reqwest::Method::GET, &path.replace(&uuid, MISSING), owner, None).await;
            assert_eq!(invisible.0, 404, "{path}");
            assert_eq!(invisible, missing, "{path}");
        }
        let mut order = m.order_body("vm");
        let base = m.customer_url().split("/api/").next().unwrap().to_string();
        order["offering"] = json!(format!("{base}/api/marketplace-public-offerings/{uuid}/"));
        order["plan"] = json!(format!("{base}/api/marketplace-public-offerings/{uuid}/plans/{plan}/"));
        let invisible = app.post("/api/marketplace-orders/", owner, order.clone()).await.expect(400);
        let missing = app.post("/api/marketplace-orders/", owner, swap_uuid(&order, &uuid, MISSING)).await.expect(400);
        assert_eq!(invisible["offering"], json!(["Invalid hyperlink - Object does not exist."]));
        assert_eq!(invisible, missing);
        let orders = app.get("/api/marketplace-orders/", app.staff()).await.expect(200);
        assert_eq!(orders, json!([]), "nothing was ordered");

        // Staff and the provider's own people see it; the shared offering stays public.
        for token in [app.staff(), m.provider_token()] {
            assert!(listed(&app.get("/api/marketplace-public-offerings/", token).await.expect(200)));
            app.get(&public, token).await.expect(200);
            app.get(&format!("{public}plans/{plan}/"), token).await.expect(200);
        }
        let shared = m.offering["uuid"].as_str().unwrap();
        app.get(&format!("/api/marketplace-public-offerings/{shared}/"), owner).await.expect(200);

        // A project of the provider customer orders it.
        let own_project = app.project(provider_url.as_str().unwrap(), "Own").await;
        order["project"] = own_project["url"].clone();
        app.post("/api/marketplace-orders/", m.provider_token(), order).await.expect(201);
    }
);

api_test!(
    async fn concurrent_edits_of_different_fields_both_hold(app) {
        let m = marketplace(&app).await;
        let project = format!("/api/projects/{}/", m.project["uuid"].as_str().unwrap());
        let customer = format!("/api/customers/{}/", m.customer_uuid());
        for round in 0..15 {
            let description = format!("described {round}");
            let backend = format!("backend-{round}");
            let phone = format!("+1-555-{round:04}");
            let (a, b, c, d) = tokio::join!(
                app.patch(&project, m.owner_token(), json!({"description": description})),
                app.patch(&project, m.owner_token(), json!({"backend_id": backend})),
                app.patch(&customer, app.staff(), json!({"phone_number": phone})),
                app.patch(&customer, app.staff(), json!({"description": description})),
            );
            for reply in [a, b, c, d] {
                reply.expect(200);
            }
            let p = app.get(&project, m.owner_token()).await.expect(200);
            assert_eq!((&p["description"], &p["backend_id"]), (&json!(description), &json!(backend)), "round {round}");
            let c = app.get(&customer, app.staff()).await.expect(200);
            assert_eq!((&c["phone_number"], &c["description"]), (&json!(phone), &json!(description)), "round {round}");
        }
        // A removed project is not written to.
        app.delete(&project, m.owner_token()).await.expect(204);
        app.patch(&project, m.owner_token(), json!({"description": "late"})).await.expect(404);
    }
);

api_test!(
    async fn concurrent_edits_of_different_resource_fields_both_hold(app) {
        let m = marketplace(&app).await;
        let resource = format!("/api/marketplace-resources/{}/", m.resource(&app, "edited").await);
        for round in 0..15 {
            let name = format!("named {round}");
            let description = format!("described {round}");
            let end_date = format!("2030-01-{:02}", round + 1);
            let (a, b, c) = tokio::join!(
                app.patch(&resource, m.owner_token(), json!({"name": name})),
                app.patch(&resource, m.owner_token(), json!({"description": description})),
                app.patch(&resource, m.owner_token(), json!({"end_date": end_date})),
            );
            for reply in [a, b, c] {
                reply.expect(200);
            }
            let r = app.get(&resource, m.owner_token()).await.expect(200);
            assert_eq!(
                (&r["name"], &r["description"], &r["end_date"]),
                (&json!(name), &json!(description), &json!(end_date)),
                "round {round}"
            );
        }
    }
);

/// A database as the last release left it: a paused resource whose attribution lives in its
/// attributes, one whose client sent `_policy_attribution` itself, and a downscaled one.
const BEFORE_0006: &[&str] = &[
    "INSERT INTO customers (id, uuid, name, created) VALUES \
     (1, 'c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1', 'Consumer', 0), (2, 'c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2', 'Provider', 0)",
    "INSERT INTO categories (id, uuid, title, created) VALUES (1, 'cacacacacacacacacacacacacacacaca', 'HPC', 0)",
    "INSERT INTO projects (id, uuid, customer_id, name, created) VALUES (1, 'b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1', 1, 'P', 0)",
    r#"INSERT INTO offerings (id, uuid, customer_id, category_id, name, type, state, plugin_options, created) VALUES
     (1, 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 2, 1, 'O', 'Marketplace.Basic', 'Active', '{"supports_pausing": true, "supports_downscaling": true}', 0)"#,
    "INSERT INTO policies (id, uuid, customer_id, actions, has_fired, created, modified) VALUES \
     (1, 'f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1', 1, 'request_pausing,request_downscaling', 1, 0, 0)",
    "INSERT INTO offering_components (id, uuid, offering_id, type, name, billing_type, created) VALUES \
     (1, 'e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1', 1, 'cpu_hours', 'CPU', 'usage', 0)",
    // Over its limit of 100 (150.00 in hundredths), so the sweep at start keeps it fired.
    "INSERT INTO policy_limits (id, policy_id, component_id, limit_value, period) VALUES (1, 1, 1, 100, 1)",
    "INSERT INTO usage_totals (customer_id, component_id, billing_month, usage) VALUES (1, 1, 24000, 15000)",
    r#"INSERT INTO resources (id, uuid, project_id, offering_id, name, state, attributes, paused, downscaled, created, modified) VALUES
     (1, 'd1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1', 1, 1, 'paused', 'OK', '{"name": "paused", "_policy_attribution": {"paused": {"policy_class": "CustomerComponentUsagePolicy", "policy_uuid": "f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1", "action": "request_pausing", "timestamp": "2026-11-26T13:39:24.123456Z"}, "downscaled": {"policy_class": "CustomerComponentUsagePolicy", "policy_uuid": "f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1", "action": "reset_downscaling", "timestamp": "2026-11-27T00:00:00.000000Z"}}}', 1, 0, 0, 5),
     (2, 'd2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2', 1, 1, 'crafted', 'OK', '{"name": "crafted", "_policy_attribution": 1}', 1, 0, 0, 5),
     (3, 'd3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3', 1, 1, 'downscaled', 'OK', '{"_policy_attribution": {"downscaled": {"policy_class": "CustomerComponentUsagePolicy", "policy_uuid": "f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1", "timestamp": "2026-11-28T10:00:00.000001Z"}}}', 0, 1, 0, 7)"#,
];

api_test!(
    backend,
    async fn migration_0006_moves_attributions_out_of_attributes(backend) {
        let (url, _dir) = database_url(backend).await;
        sqlx::any::install_default_drivers();
        let connect_url = match backend {
            Backend::Sqlite => format!("{url}?mode=rwc"),
            Backend::Postgres => url.clone(),
        };
        let pool = sqlx::AnyPool::connect(&connect_url).await.expect("connect");
        let mut migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator.migrations = migrator.migrations.iter().filter(|m| m.version < 6).cloned().collect::<Vec<_>>().into();
        migrator.run(&pool).await.expect("migrations up to 0005");
        for statement in BEFORE_0006 {
            sqlx::query(statement).execute(&pool).await.expect(statement);
        }

        // Starting the service applies 0006.
        let app = spawn_app_with(backend, |s| s.database.database_url = url.clone()).await;
        let holds: Vec<(i64, String, i64, i64)> =
            sqlx::query_as("SELECT resource_id, flag, policy_id, since FROM resource_restrictions ORDER BY resource_id, flag")
                .fetch_all(&pool)
                .await
                .expect("holds");
        // 2026-11-26T13:39:24.123456Z and 2026-11-28T10:00:00.000001Z in microseconds.
        assert_eq!(
            holds,
            [(1, "paused".to_string(), 1, 1_795_700_364_123_456), (3, "downscaled".to_string(), 1, 1_795_860_000_000_001)]
        );
        let attributes = |uuid: &'static str| {
            let app = &app;
            async move {
                app.get(&format!("/api/marketplace-resources/{uuid}/"), app.staff()).await.expect(200)["attributes"].clone()
            }
        };
        assert_eq!(attributes("d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1").await, json!({"name": "paused"}));
        assert_eq!(attributes("d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2").await, json!({"name": "crafted", "_policy_attribution": 1}));
        assert_eq!(attributes("d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3").await, json!({}));

        // Deleting the fired policy resets its flags and drops its holds.
        let p = app.get(&format!("{POLICIES}f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1/"), app.staff()).await.expect(200);
        assert_eq!((&p["has_fired"], &p["affected_resources_count"]), (&json!(true), &json!(3)));
        app.delete(&format!("{POLICIES}f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1/"), app.staff()).await.expect(204);
        for uuid in ["d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1", "d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3"] {
            let r = app.get(&format!("/api/marketplace-resources/{uuid}/"), app.staff()).await.expect(200);
            assert_eq!((&r["paused"], &r["downscaled"]), (&json!(false), &json!(false)), "{uuid}");
        }
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM resource_restrictions").fetch_one(&pool).await.expect("count");
        assert_eq!(left, 0);
    }
);
