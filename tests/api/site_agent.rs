//! What the Waldur Site Agent calls: its identities, services and processors, provider resources
//! and their actions, offering users, per-user usage and limits, and the version
//! (docs/site-agent.md).

use crate::api_test;
use crate::fixtures::{marketplace, Marketplace};
use crate::helpers::TestApp;
use serde_json::{json, Value};

const IDENTITIES: &str = "/api/marketplace-site-agent-identities/";
const SERVICES: &str = "/api/marketplace-site-agent-services/";
const PROVIDER_RESOURCES: &str = "/api/marketplace-provider-resources/";
const OFFERING_USERS: &str = "/api/marketplace-offering-users/";
const USER_USAGES: &str = "/api/marketplace-component-user-usages/";
const LIMITS: &str = "/api/component-user-usage-limits/";

fn offering_uuid(m: &Marketplace) -> &str {
    m.offering["uuid"].as_str().expect("offering uuid")
}

fn identity_body(m: &Marketplace, name: &str) -> Value {
    json!({
        "offering": offering_uuid(m), "name": name, "version": "1.0.7",
        "dependencies": [{"package": "waldur-api-client", "version": "8.1.2"}],
        "config_file_path": "", "config_file_content": "",
        "last_restarted": "2026-01-05T10:00:00Z"
    })
}

/// A user who holds `role` on the provider's customer; returns its token.
async fn provider_role(app: &TestApp, m: &Marketplace, username: &str, role: &str) -> String {
    let (uuid, token) = app.user(username).await;
    let provider = m.offering["customer_uuid"].as_str().expect("provider uuid");
    app.grant("customers", provider, &uuid, role).await;
    token
}

fn items(body: Value) -> Vec<Value> {
    body.as_array().expect("a list").clone()
}

api_test!(
    async fn an_agent_registers_its_identity_services_and_processors(app) {
        let m = marketplace(&app).await;
        let agent = m.provider_token();
        let name = format!("agent-{}", offering_uuid(&m));
        let identity = app.post(IDENTITIES, agent, identity_body(&m, &name)).await.expect(201);
        assert_eq!(identity["offering"], offering_uuid(&m));
        assert_eq!(identity["dependencies"], json!([{"package": "waldur-api-client", "version": "8.1.2"}]));
        assert_eq!(identity["last_restarted"], "2026-01-05T10:00:00.000000Z");
        assert_eq!(identity["services"], json!([]));
        let uuid = identity["uuid"].as_str().unwrap().to_string();

        // The agent finds its identity by name at each start and updates it.
        let found = items(app.get(&format!("{IDENTITIES}?name={name}"), agent).await.expect(200));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0]["uuid"], uuid.as_str());
        let mut again = identity_body(&m, &name);
        again["version"] = json!("1.0.8");
        let updated = app.put(&format!("{IDENTITIES}{uuid}/"), agent, again).await.expect(200);
        assert_eq!(updated["version"], "1.0.8");
        let taken = app.post(IDENTITIES, agent, identity_body(&m, &name)).await.expect(400);
        assert_eq!(taken, json!(["Agent identity with this offering and name already exists."]));

        // A service per mode: created once, refreshed after.
        let register = format!("{IDENTITIES}{uuid}/register_service/");
        let service = app.post(&register, agent, json!({"name": "report", "mode": "report"})).await.expect(201);
        assert_eq!((service["identity"].as_str(), service["state"].as_str()), (Some(uuid.as_str()), Some("Active")));
        let same = app.post(&register, agent, json!({"name": "report", "mode": "report"})).await.expect(200);
        assert_eq!(same["uuid"], service["uuid"]);
        let service_uuid = service["uuid"].as_str().unwrap();

        // A processor per processor class, with when it last ran.
        let register = format!("{SERVICES}{service_uuid}/register_processor/");
        let body = json!({"name": "OfferingReportProcessor", "backend_type": "slurm", "backend_version": "23.02"});
        let processor = app.post(&register, agent, body.clone()).await.expect(201);
        assert_eq!(processor["service"], service_uuid);
        assert_eq!(processor["service_name"], "report");
        let first_run = processor["last_run"].as_str().expect("last_run").to_string();
        let rerun = app.post(&register, agent, body).await.expect(200);
        assert_eq!(rerun["uuid"], processor["uuid"]);
        assert!(rerun["last_run"].as_str().unwrap() >= first_run.as_str());

        let listed = items(app.get(&format!("{SERVICES}?identity_uuid={uuid}"), agent).await.expect(200));
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["processors"][0]["name"], "OfferingReportProcessor");
        let shown = app.get(&format!("{IDENTITIES}{uuid}/"), app.staff()).await.expect(200);
        assert_eq!(shown["services"][0]["name"], "report");
        let by_offering = format!("{IDENTITIES}?offering_uuid={}", offering_uuid(&m));
        assert_eq!(items(app.get(&by_offering, app.staff()).await.expect(200)).len(), 1);

        app.delete(&format!("{IDENTITIES}{uuid}/"), agent).await.expect(204);
        app.get(&format!("{SERVICES}{service_uuid}/"), app.staff()).await.expect(404);
    }
);

api_test!(
    async fn identities_are_the_providers_and_staffs_to_see(app) {
        let m = marketplace(&app).await;
        let identity = app.post(IDENTITIES, m.provider_token(), identity_body(&m, "a")).await.expect(201);
        let uuid = identity["uuid"].as_str().unwrap();
        let path = format!("{IDENTITIES}{uuid}/");
        let register = format!("{path}register_service/");

        // The consumer's owner sees nothing of it, as if it did not exist.
        let consumer = m.owner_token();
        app.get(&path, consumer).await.expect(404);
        assert_eq!(items(app.get(IDENTITIES, consumer).await.expect(200)), Vec::<Value>::new());
        app.post(&register, consumer, json!({"name": "report"})).await.expect(404);
        app.put(&path, consumer, json!({})).await.expect(404);
        app.delete(&path, consumer).await.expect(404);
        let refused = app.post(IDENTITIES, consumer, identity_body(&m, "b")).await.expect(400);
        let hyphenated = crate::helpers::hyphenate(offering_uuid(&m));
        assert_eq!(refused, json!({"offering": [format!("Object with uuid={hyphenated} does not exist.")]}));

        // The provider's support sees it, but may not act for the provider.
        let support = provider_role(&app, &m, "provsupport", "CUSTOMER.SUPPORT").await;
        app.get(&path, &support).await.expect(200);
        app.post(&register, &support, json!({"name": "report"})).await.expect(403);
        app.post(IDENTITIES, &support, identity_body(&m, "c")).await.expect(403);

        // A provider manager acts as the owner does.
        let manager = provider_role(&app, &m, "provmanager", "CUSTOMER.MANAGER").await;
        app.post(&register, &manager, json!({"name": "report"})).await.expect(201);
        app.call(reqwest::Method::GET, IDENTITIES, None, None).await.expect(401);
    }
);

api_test!(
    async fn identity_and_registration_bodies_are_checked(app) {
        let m = marketplace(&app).await;
        let agent = m.provider_token();
        let missing = app.post(IDENTITIES, agent, json!({})).await.expect(400);
        assert_eq!(
            missing,
            json!({"offering": ["This field is required."], "name": ["This field is required."]})
        );
        let mut bad = identity_body(&m, "x");
        bad["dependencies"] = json!([{"package": "a"}, "b"]);
        bad["last_restarted"] = json!("yesterday");
        let refused = app.post(IDENTITIES, agent, bad).await.expect(400);
        assert_eq!(refused["dependencies"][0], json!({"version": ["This field is required."]}));
        assert_eq!(
            refused["dependencies"][1],
            json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]})
        );
        assert!(refused["last_restarted"][0].as_str().unwrap().starts_with("Datetime has wrong format."));
        assert_eq!(app.post(IDENTITIES, agent, json!({"offering": "x", "name": "a"})).await.expect(400),
                   json!({"offering": ["Must be a valid UUID."]}));

        let identity = app.post(IDENTITIES, agent, identity_body(&m, "x")).await.expect(201);
        let uuid = identity["uuid"].as_str().unwrap();
        let register = format!("{IDENTITIES}{uuid}/register_service/");
        assert_eq!(app.post(&register, agent, json!({"mode": "report"})).await.expect(400),
                   json!({"name": ["This field is required."]}));
        let service = app.post(&register, agent, json!({"name": "report"})).await.expect(201);
        let processor = format!("{SERVICES}{}/register_processor/", service["uuid"].as_str().unwrap());
        assert_eq!(app.post(&processor, agent, json!({"name": ""})).await.expect(400),
                   json!({"name": ["This field may not be blank."], "backend_type": ["This field is required."]}));
        app.get(&format!("{IDENTITIES}not-a-uuid/"), agent).await.expect(404);
    }
);

api_test!(
    async fn provider_resources_are_listed_by_offering_and_state_and_kept_by_the_agent(app) {
        let m = marketplace(&app).await;
        let agent = m.provider_token();
        let resource = m.resource(&app, "vm").await;
        let path = format!("{PROVIDER_RESOURCES}{resource}/");

        let query = format!("{PROVIDER_RESOURCES}?offering_uuid={}&state=OK&state=Erred", offering_uuid(&m));
        let listed = items(app.get(&query, agent).await.expect(200));
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["uuid"], resource.as_str());
        assert_eq!(listed[0]["paused"], false);
        assert_eq!(listed[0]["project_slug"], m.project["slug"]);
        assert_eq!(listed[0]["last_sync"], listed[0]["created"]);
        let creating = format!("{PROVIDER_RESOURCES}?offering_uuid={}&state=Creating", offering_uuid(&m));
        assert_eq!(items(app.get(&creating, agent).await.expect(200)).len(), 0);

        let status = app.post(&format!("{path}set_backend_id/"), agent, json!({"backend_id": "acc-1"})).await.expect(200);
        assert_eq!(status, json!({"status": "Resource backend_id has been changed."}));
        app.post(&format!("{path}set_limits/"), agent, json!({"limits": {"cpu": 1000}})).await.expect(200);
        let metadata = json!({"backend_metadata": {"qos": "normal"}});
        app.post(&format!("{path}set_backend_metadata/"), agent, metadata).await.expect(200);
        let erred = json!({"error_message": "sacctmgr failed", "error_traceback": "trace"});
        app.post(&format!("{path}set_as_erred/"), agent, erred).await.expect(200);
        let shown = app.get(&path, agent).await.expect(200);
        assert_eq!(shown["backend_id"], "acc-1");
        assert_eq!(shown["limits"], json!({"cpu": 1000}));
        assert_eq!(shown["backend_metadata"], json!({"qos": "normal"}));
        assert_eq!((shown["state"].as_str(), shown["error_message"].as_str()), (Some("Erred"), Some("sacctmgr failed")));

        app.post(&format!("{path}set_as_ok/"), agent, json!({})).await.expect(200);
        app.post(&format!("{path}refresh_last_sync/"), agent, json!({})).await.expect(200);
        let shown = app.get(&path, agent).await.expect(200);
        assert_eq!((shown["state"].as_str(), shown["error_message"].as_str()), (Some("OK"), Some("")));
        assert!(shown["last_sync"].as_str().unwrap() > shown["created"].as_str().unwrap());
        // The consumer's view shows what the provider set.
        let consumer = app.get(&format!("/api/marketplace-resources/{resource}/"), m.owner_token()).await.expect(200);
        assert_eq!(consumer["backend_id"], "acc-1");

        // A resource still being created is its order's, not the agent's, to make OK.
        let order = app.post("/api/marketplace-orders/", m.owner_token(), m.order_body("pending")).await.expect(201);
        let creating = order["marketplace_resource_uuid"].as_str().unwrap();
        let conflict = app.post(&format!("{PROVIDER_RESOURCES}{creating}/set_as_ok/"), agent, json!({})).await.expect(409);
        assert_eq!(conflict, json!({"detail": "Resource state does not allow this action."}));
    }
);

api_test!(
    async fn the_team_shows_each_members_account_on_the_offering(app) {
        let m = marketplace(&app).await;
        let agent = m.provider_token();
        let resource = m.resource(&app, "vm").await;
        let (member, _) = app.user("alice").await;
        app.grant("projects", m.project["uuid"].as_str().unwrap(), &member, "PROJECT.ADMIN").await;
        let team = format!("{PROVIDER_RESOURCES}{resource}/team/");
        let before = items(app.get(&team, agent).await.expect(200));
        assert_eq!(before.len(), 1);
        assert_eq!((before[0]["username"].as_str(), before[0]["role"].as_str()), (Some("alice"), Some("PROJECT.ADMIN")));
        assert_eq!(before[0]["offering_user_username"], Value::Null);

        let body = json!({"offering": m.offering["url"], "user": format!("{}/api/users/{member}/", app.address),
                          "username": "alice01"});
        let account = app.post(OFFERING_USERS, agent, body.clone()).await.expect(201);
        assert_eq!((account["username"].as_str(), account["state"].as_str()), (Some("alice01"), Some("OK")));
        assert_eq!(account["user_username"], "alice");
        assert_eq!(app.post(OFFERING_USERS, agent, body).await.expect(400),
                   json!(["Offering user with this offering and user already exists."]));
        let after = items(app.get(&team, agent).await.expect(200));
        assert_eq!((after[0]["offering_user_username"].as_str(), after[0]["offering_user_state"].as_str()),
                   (Some("alice01"), Some("OK")));

        let by_offering = format!("{OFFERING_USERS}?offering_uuid={}&is_restricted=false", offering_uuid(&m));
        assert_eq!(items(app.get(&by_offering, agent).await.expect(200)).len(), 1);
        let restricted = format!("{OFFERING_USERS}?offering_uuid={}&is_restricted=true", offering_uuid(&m));
        assert_eq!(items(app.get(&restricted, agent).await.expect(200)).len(), 0);
        app.get(&format!("{OFFERING_USERS}{}/", account["uuid"].as_str().unwrap()), m.owner_token())
            .await
            .expect(404);
        app.get(&team, m.owner_token()).await.expect(404);
        let missing = app.post(OFFERING_USERS, agent, json!({"username": "x"})).await.expect(400);
        assert_eq!(missing, json!({"offering": ["This field is required."], "user": ["This field is required."]}));
    }
);

api_test!(
    async fn provider_resources_are_hidden_from_others_and_writes_need_the_provider(app) {
        let m = marketplace(&app).await;
        let resource = m.resource(&app, "vm").await;
        let path = format!("{PROVIDER_RESOURCES}{resource}/");
        let consumer = m.owner_token();
        app.get(&path, consumer).await.expect(404);
        assert_eq!(items(app.get(PROVIDER_RESOURCES, consumer).await.expect(200)).len(), 0);
        for action in ["set_as_ok", "set_as_erred", "refresh_last_sync", "set_backend_id", "set_limits"] {
            app.post(&format!("{path}{action}/"), consumer, json!({})).await.expect(404);
        }
        let support = provider_role(&app, &m, "provsupport", "CUSTOMER.SUPPORT").await;
        app.get(&path, &support).await.expect(200);
        app.post(&format!("{path}set_backend_id/"), &support, json!({"backend_id": "x"})).await.expect(403);
        app.post(&format!("{path}set_as_erred/"), &support, json!({})).await.expect(403);
        app.get(&format!("{PROVIDER_RESOURCES}{}/", "0".repeat(32)), app.staff()).await.expect(404);
        app.call(reqwest::Method::GET, &path, None, None).await.expect(401);
    }
);

api_test!(
    async fn provider_resource_bodies_are_checked(app) {
        let m = marketplace(&app).await;
        let agent = m.provider_token();
        let resource = m.resource(&app, "vm").await;
        let path = format!("{PROVIDER_RESOURCES}{resource}/");
        assert_eq!(app.post(&format!("{path}set_limits/"), agent, json!({"limits": {"cpu": -1}})).await.expect(400),
                   json!({"limits": {"cpu": ["Ensure this value is greater than or equal to 0."]}}));
        assert_eq!(app.post(&format!("{path}set_limits/"), agent, json!({})).await.expect(400),
                   json!({"limits": ["This field is required."]}));
        let refused = app.post(&format!("{path}set_backend_metadata/"), agent, json!({"backend_metadata": [1]})).await;
        assert_eq!(refused.expect(400),
                   json!({"backend_metadata": ["Expected a dictionary of items but got type \"list\"."]}));
        assert_eq!(app.post(&format!("{path}set_backend_id/"), agent, json!({"backend_id": ["a"]})).await.expect(400),
                   json!({"backend_id": ["Not a valid string."]}));

        // Membership sync statuses: each entry checked, users unknown to meterguard skipped.
        let statuses = format!("{path}set_membership_sync_statuses/");
        let bad = json!({"statuses": [{"username": "x", "scope_type": "cluster", "role_name": "member", "state": "synced"}]});
        assert_eq!(app.post(&statuses, agent, bad).await.expect(400),
                   json!({"statuses": [{"scope_type": ["\"cluster\" is not a valid choice."]}]}));
        let (_, _) = app.user("bob").await;
        let body = json!({"statuses": [
            {"username": "bob", "scope_type": "resource", "role_name": "member", "state": "synced"},
            {"username": "ghost", "scope_type": "resource", "role_name": "member", "state": "error", "message": "no"}
        ]});
        assert_eq!(app.post(&statuses, agent, body).await.expect(200), json!({"stored": 1, "skipped": ["ghost"]}));
    }
);

api_test!(
    async fn per_user_usage_is_kept_and_listed_but_judged_by_no_policy(app) {
        let m = marketplace(&app).await;
        let agent = m.provider_token();
        let resource = m.resource(&app, "vm").await;
        let policy = m.cpu_policy(&app, "request_pausing", 100, 2).await;
        let report = json!({"resource": resource, "usages": [{"type": "cpu_hours", "amount": "50"}]});
        app.post("/api/marketplace-component-usages/set_usage/", agent, report).await.expect(201);
        let usages = app.get(&format!("/api/marketplace-component-usages/?resource_uuid={resource}"), agent).await;
        let usage = usages.expect(200)[0]["uuid"].as_str().unwrap().to_string();

        // Users' shares above the policy's limit move nothing: policies judge the usage rows.
        let bulk = format!("/api/marketplace-component-usages/{usage}/set_user_usages/");
        let body = json!({"usages": [{"username": "alice", "usage": "150.5"}, {"username": "bob", "usage": 20}]});
        app.post(&bulk, agent, body).await.expect(201);
        let single = format!("/api/marketplace-component-usages/{usage}/set_user_usage/");
        app.post(&single, agent, json!({"username": "bob", "usage": "30"})).await.expect(201);
        let policy_path = format!("/api/marketplace-customer-component-usage-policies/{policy}/");
        assert_eq!(app.get(&policy_path, app.staff()).await.expect(200)["has_fired"], false);

        let listed = items(app.get(&format!("{USER_USAGES}?resource_uuid={resource}"), agent).await.expect(200));
        let mut shares: Vec<(String, String)> = listed
            .iter()
            .map(|u| (u["username"].as_str().unwrap().into(), u["usage"].as_str().unwrap().into()))
            .collect();
        shares.sort();
        assert_eq!(shares, [("alice".into(), "150.50".into()), ("bob".into(), "30.00".into())]);
        assert_eq!(listed[0]["component_type"], "cpu_hours");
        assert!(listed[0]["component_usage"].as_str().unwrap().ends_with(&format!("/{usage}/")));
        let month = listed[0]["billing_period"].as_str().unwrap().to_string();
        let by_period = format!("{USER_USAGES}?resource_uuid={resource}&component_usage_billing_period={month}");
        assert_eq!(items(app.get(&by_period, agent).await.expect(200)).len(), 2);
        let one = listed[0]["uuid"].as_str().unwrap();
        app.get(&format!("{USER_USAGES}{one}/"), m.owner_token()).await.expect(200);

        // Bad bodies, and callers who may not report.
        let refused = app.post(&bulk, agent, json!({"usages": [{"usage": "-1"}]})).await.expect(400);
        assert_eq!(refused["usages"][0]["username"], json!(["This field is required."]));
        assert_eq!(refused["usages"][0]["usage"], json!(["Ensure this value is greater than or equal to 0."]));
        app.post(&single, m.owner_token(), json!({"username": "x"})).await.expect(403);
        let (_, nobody) = app.user("nobody").await;
        app.post(&single, &nobody, json!({"username": "x"})).await.expect(404);
        app.get(&format!("{USER_USAGES}{one}/"), &nobody).await.expect(404);
        assert_eq!(items(app.get(USER_USAGES, &nobody).await.expect(200)).len(), 0);
    }
);

api_test!(
    async fn per_user_limits_are_set_by_the_provider_and_read_by_username(app) {
        let m = marketplace(&app).await;
        let agent = m.provider_token();
        let resource = m.resource(&app, "vm").await;
        let (alice, _) = app.user("alice").await;
        let account = json!({"offering_uuid": offering_uuid(&m), "user_uuid": alice, "username": "alice01"});
        app.post(OFFERING_USERS, agent, account).await.expect(201);
        let resource_url = format!("{}/api/marketplace-resources/{resource}/", app.address);
        let body = json!({"resource": resource_url, "component": m.component("cpu_hours"), "user": "alice01", "limit": 40});
        let limit = app.post(LIMITS, agent, body.clone()).await.expect(201);
        assert_eq!((limit["user"].as_str(), limit["limit"].as_str()), (Some("alice01"), Some("40.00")));
        assert_eq!(limit["component_type"], "cpu_hours");
        let listed = items(app.get(&format!("{LIMITS}?resource_uuid={resource}"), agent).await.expect(200));
        assert_eq!(listed.len(), 1);
        let uuid = limit["uuid"].as_str().unwrap();
        app.get(&format!("{LIMITS}{uuid}/"), m.owner_token()).await.expect(200);

        let mut unknown = body.clone();
        unknown["user"] = json!("bob");
        assert_eq!(app.post(LIMITS, agent, unknown).await.expect(400),
                   json!({"user": ["Object with username=bob does not exist."]}));
        assert_eq!(app.post(LIMITS, agent, json!({"limit": "x"})).await.expect(400), json!({
            "resource": ["This field is required."], "component": ["This field is required."],
            "user": ["This field is required."], "limit": ["A valid number is required."]
        }));
        app.post(LIMITS, m.owner_token(), body).await.expect(400);
        app.delete(&format!("{LIMITS}{uuid}/"), m.owner_token()).await.expect(403);
        app.delete(&format!("{LIMITS}{uuid}/"), agent).await.expect(204);
        app.get(&format!("{LIMITS}{uuid}/"), agent).await.expect(404);
    }
);

api_test!(
    async fn the_version_is_served(app) {
        let version = app.get("/api/version/", app.staff()).await.expect(200);
        assert_eq!(version, json!({"version": env!("CARGO_PKG_VERSION")}));
        app.call(reqwest::Method::GET, "/api/version/", None, None).await.expect(401);
    }
);
