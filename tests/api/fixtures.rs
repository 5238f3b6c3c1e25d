//! A small marketplace built through the API: a consumer customer with a project and an owner,
//! a provider customer with an active offering whose components cover every billing type.

use crate::helpers::TestApp;
use serde_json::{json, Value};

pub struct Marketplace {
    pub customer: Value,
    pub project: Value,
    pub offering: Value,
    pub owner: (String, String),
    pub provider_owner: (String, String),
}

impl Marketplace {
    pub fn customer_url(&self) -> &str {
        self.customer["url"].as_str().expect("customer url")
    }

    pub fn customer_uuid(&self) -> &str {
        self.customer["uuid"].as_str().expect("customer uuid")
    }

    /// The uuid of the offering's component of this type.
    pub fn component(&self, r#type: &str) -> String {
        self.offering["components"]
            .as_array()
            .expect("components")
            .iter()
            .find(|c| c["type"] == r#type)
            .and_then(|c| c["uuid"].as_str())
            .unwrap_or_else(|| panic!("no component {type}"))
            .to_string()
    }

    pub fn owner_token(&self) -> &str {
        &self.owner.1
    }

    pub fn provider_token(&self) -> &str {
        &self.provider_owner.1
    }

    /// The public URL a consumer orders the offering by, and its plan's.
    pub fn order_body(&self, name: &str) -> Value {
        let offering = self.offering["uuid"].as_str().expect("offering uuid");
        let plan = self.offering["plans"][0]["uuid"].as_str().expect("plan uuid");
        let base = self.customer_url().split("/api/").next().expect("base").to_string();
        json!({
            "offering": format!("{base}/api/marketplace-public-offerings/{offering}/"),
            "plan": format!("{base}/api/marketplace-public-offerings/{offering}/plans/{plan}/"),
            "project": self.project["url"],
            "attributes": {"name": name},
            "limits": {"storage_gb": 10}
        })
    }

    /// A policy of the consumer with one `cpu_hours` limit of `limit` over `period`, running
    /// `actions`; returns its uuid.
    pub async fn cpu_policy(&self, app: &TestApp, actions: &str, limit: i64, period: i64) -> String {
        let body = json!({
            "scope": self.customer_url(), "actions": actions,
            "component_limits_set": [{"component": self.component("cpu_hours"), "limit": limit, "period": period}]
        });
        let created = app
            .post("/api/marketplace-customer-component-usage-policies/", app.staff(), body)
            .await
            .expect(201);
        created["uuid"].as_str().expect("policy uuid").to_string()
    }

    /// A resource in state OK, made through a Create order taken all the way; returns its uuid.
    pub async fn resource(&self, app: &TestApp, name: &str) -> String {
        self.resource_in(app, &self.project["url"], self.owner_token(), name)
            .await
    }

    /// A resource of another project, ordered and approved by `consumer` (staff, or an owner).
    pub async fn resource_in(&self, app: &TestApp, project_url: &Value, consumer: &str, name: &str) -> String {
        let mut body = self.order_body(name);
        body["project"] = project_url.clone();
        let order = app.post("/api/marketplace-orders/", consumer, body).await.expect(201);
        let uuid = order["uuid"].as_str().expect("order uuid");
        for (step, token) in [
            ("approve_by_consumer", consumer),
            ("approve_by_provider", self.provider_token()),
            ("set_state_done", self.provider_token()),
        ] {
            app.post(&format!("/api/marketplace-orders/{uuid}/{step}/"), token, json!({}))
                .await
                .expect(200);
        }
        order["marketplace_resource_uuid"]
            .as_str()
            .expect("resource uuid")
            .to_string()
    }
}

pub async fn marketplace(app: &TestApp) -> Marketplace {
    let customer = app.customer("Consumer Org").await;
    let project = app.project(customer["url"].as_str().expect("url"), "Research").await;
    let owner = app.user("owner").await;
    app.grant(
        "customers",
        customer["uuid"].as_str().expect("uuid"),
        &owner.0,
        "CUSTOMER.OWNER",
    )
    .await;

    let provider = app.customer("Provider Org").await;
    let provider_owner = app.user("provider").await;
    app.grant(
        "customers",
        provider["uuid"].as_str().expect("uuid"),
        &provider_owner.0,
        "CUSTOMER.OWNER",
    )
    .await;
    let staff = app.staff();
    app.post(
        "/api/marketplace-service-providers/",
        staff,
        json!({"customer": provider["url"]}),
    )
    .await
    .expect(201);
    let category = app
        .post("/api/marketplace-categories/", staff, json!({"title": "HPC"}))
        .await
        .expect(201);
    let offering = app
        .post(
            "/api/marketplace-provider-offerings/",
            staff,
            json!({
                "name": "Cluster",
                "category": category["url"],
                "type": "Marketplace.Basic",
                "customer": provider["url"],
                "plugin_options": {"supports_pausing": true, "supports_downscaling": true,
                                   "service_provider_can_create_offering_user": true},
                "components": [
                    {"type": "cpu_hours", "name": "CPU hours", "billing_type": "usage", "measured_unit": "hours"},
                    {"type": "storage_gb", "name": "Storage", "billing_type": "limit", "measured_unit": "GB"},
                    {"type": "base", "name": "Base fee", "billing_type": "fixed", "measured_unit": "month"},
                    {"type": "setup", "name": "Setup fee", "billing_type": "one"}
                ],
                "plans": [{"name": "Default", "unit": "month", "unit_price": "10.00"}]
            }),
        )
        .await
        .expect(201);
    let path = format!(
        "/api/marketplace-provider-offerings/{}/activate/",
        offering["uuid"].as_str().expect("uuid")
    );
    app.post(&path, staff, json!({})).await.expect(200);
    Marketplace {
        customer,
        project,
        offering,
        owner,
        provider_owner,
    }
}

/// The roles of SPEC's permission matrix, each with a token.
pub struct RoleTokens {
    pub support: String,
    pub owner: String,
    pub manager: String,
    pub customer_support: String,
    pub project_member: String,
    pub nobody: String,
}

pub async fn role_tokens(app: &TestApp, m: &Marketplace) -> RoleTokens {
    let (support_uuid, support) = app.user("support").await;
    app.patch(
        &format!("/api/users/{support_uuid}/"),
        app.staff(),
        json!({"is_support": true}),
    )
    .await
    .expect(200);
    let (manager_uuid, manager) = app.user("manager").await;
    app.grant("customers", m.customer_uuid(), &manager_uuid, "CUSTOMER.MANAGER")
        .await;
    let (cs_uuid, customer_support) = app.user("custsupport").await;
    app.grant("customers", m.customer_uuid(), &cs_uuid, "CUSTOMER.SUPPORT")
        .await;
    let (member_uuid, project_member) = app.user("member").await;
    app.grant(
        "projects",
        m.project["uuid"].as_str().unwrap(),
        &member_uuid,
        "PROJECT.MEMBER",
    )
    .await;
    let (_, nobody) = app.user("nobody").await;
    RoleTokens {
        support,
        owner: m.owner_token().to_string(),
        manager,
        customer_support,
        project_member,
        nobody,
    }
}

/// Reports `amount` CPU-hours for this month on the resource, as staff (whose token the clock
/// tests keep alive).
pub async fn staff_cpu_usage(app: &TestApp, resource: &str, amount: &str) {
    let body = json!({"resource": resource, "usages": [{"type": "cpu_hours", "amount": amount}]});
    app.post("/api/marketplace-component-usages/set_usage/", app.staff(), body)
        .await
        .expect(201);
}

/// The policy as staff see it.
pub async fn policy_as_staff(app: &TestApp, uuid: &str) -> Value {
    let path = format!("/api/marketplace-customer-component-usage-policies/{uuid}/");
    app.get(&path, app.staff()).await.expect(200)
}

/// The policy's events of `event_type`, oldest first.
pub async fn policy_events(app: &TestApp, uuid: &str, event_type: &str) -> Vec<Value> {
    let path = format!("/api/events/?policy_uuid={uuid}&event_type={event_type}&page_size=300");
    let mut events = app
        .get(&path, app.staff())
        .await
        .expect(200)
        .as_array()
        .unwrap()
        .clone();
    events.reverse();
    events
}

/// The `uuid` of an object the API returned.
pub fn uuid_of(v: &Value) -> String {
    v["uuid"].as_str().unwrap().to_string()
}
