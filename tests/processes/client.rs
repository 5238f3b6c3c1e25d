//! A small HTTP client for one server and one user, the marketplace the tests report usage in,
//! and exact decimal helpers.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

pub const POLICIES: &str = "/api/marketplace-customer-component-usage-policies/";
pub const SET_USAGE: &str = "/api/marketplace-component-usages/set_usage/";
pub const USAGES: &str = "/api/marketplace-component-usages/";

/// One user talking to one server. Cheap to clone (reqwest's client is shared).
#[derive(Clone)]
pub struct Api {
    pub base: String,
    token: String,
    http: reqwest::Client,
}

/// A response read once: status, the result count header of lists, and the JSON body (Null
/// when empty, a string when not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub result_count: Option<usize>,
    pub body: Value,
}

impl Reply {
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        self.body
    }
}

impl Api {
    pub fn new(base: &str, token: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A server stuck in a deadlock must fail the test, not hang it.
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        Self {
            base: base.to_string(),
            token: token.to_string(),
            http,
        }
    }

    /// The same user on another server.
    pub fn at(&self, base: &str) -> Self {
        Self {
            base: base.to_string(),
            ..self.clone()
        }
    }

    /// Another user on the same server.
    pub fn as_user(&self, token: &str) -> Self {
        Self {
            token: token.to_string(),
            ..self.clone()
        }
    }

    /// Sends a request; a transport error (connection refused, reset, timeout) is returned, not
    /// a panic, for the tests that kill the server under load.
    pub async fn try_send(&self, method: Method, path: &str, body: Option<&Value>) -> reqwest::Result<Reply> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", format!("Token {}", self.token));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let result_count = response
            .headers()
            .get("x-result-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let bytes = response.bytes().await?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Ok(Reply {
            status,
            result_count,
            body,
        })
    }

    pub async fn get(&self, path: &str) -> Reply {
        let reply = self.try_send(Method::GET, path, None).await;
        reply.unwrap_or_else(|e| panic!("GET {}{path}: {e}", self.base))
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        let reply = self.try_send(Method::POST, path, Some(&body)).await;
        reply.unwrap_or_else(|e| panic!("POST {}{path}: {e}", self.base))
    }

    /// Creates a user (as staff), gives it a password, logs in as it.
    pub async fn new_user(&self, username: &str) -> (String, Api) {
        let body = json!({"username": username, "email": format!("{username}@example.org"),
                          "first_name": username, "last_name": "Tester"});
        let user = self.post("/api/users/", body).await.expect(201);
        let uuid = user["uuid"].as_str().expect("uuid").to_string();
        self.post(
            &format!("/api/users/{uuid}/change_password/"),
            json!({"new_password": "pass-1234"}),
        )
        .await
        .expect(200);
        let login = self
            .http
            .post(format!("{}/api-auth/password/", self.base))
            .json(&json!({"username": username, "password": "pass-1234"}))
            .send()
            .await
            .expect("login");
        assert_eq!(login.status(), StatusCode::OK, "login as {username}");
        let token: Value = login.json().await.expect("login body");
        (uuid, self.as_user(token["token"].as_str().expect("token")))
    }

    /// `set_usage` of one or more (component type, amount) pairs; `date` (staff) backfills.
    pub async fn try_set_usage(
        &self,
        resource: &str,
        usages: &[(&str, &str)],
        date: Option<&str>,
    ) -> reqwest::Result<Reply> {
        let usages: Vec<Value> = usages.iter().map(|(t, a)| json!({"type": t, "amount": a})).collect();
        let mut body = json!({"resource": resource, "usages": usages});
        if let Some(date) = date {
            body["date"] = json!(date);
        }
        self.try_send(Method::POST, SET_USAGE, Some(&body)).await
    }

    /// How many events of one type a policy has (from the list's result count).
    pub async fn event_count(&self, event_type: &str, policy: &str) -> usize {
        let reply = self
            .get(&format!(
                "/api/events/?event_type={event_type}&policy_uuid={policy}&page_size=300"
            ))
            .await;
        let count = reply.result_count.expect("X-Result-Count");
        let listed = reply.expect(200).as_array().expect("events").len();
        assert_eq!(count, listed, "X-Result-Count matches the listed events");
        count
    }

    /// Events of one type for a policy, newest first (fits one page in these tests).
    pub async fn events(&self, event_type: &str, policy: &str) -> Vec<Value> {
        let path = format!("/api/events/?event_type={event_type}&policy_uuid={policy}&page_size=300");
        self.get(&path).await.expect(200).as_array().expect("events").clone()
    }

    pub async fn policy(&self, uuid: &str) -> Value {
        self.get(&format!("{POLICIES}{uuid}/")).await.expect(200)
    }

    /// The usage figure of a one-limit policy's status, in hundredths.
    pub async fn status_usage(&self, policy: &str) -> i64 {
        let status = self.get(&format!("{POLICIES}{policy}/status/")).await.expect(200);
        hundredths(status["limits"][0]["usage"].as_str().expect("usage string"))
    }

    /// `meterguard_outbox_depth` from `GET /metrics`: deliveries neither done nor given up on.
    pub async fn outbox_depth(&self) -> i64 {
        let reply = self.get("/metrics").await;
        assert_eq!(reply.status, StatusCode::OK, "GET /metrics");
        let text = reply.body.as_str().expect("metrics text").to_string();
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some("meterguard_outbox_depth"))
            .unwrap_or_else(|| panic!("no meterguard_outbox_depth in /metrics:\n{text}"));
        let value = line.split_whitespace().nth(1).expect("a value");
        value.parse::<f64>().unwrap_or_else(|_| panic!("outbox depth {line}")) as i64
    }

    /// Every usage row of a resource, all pages.
    pub async fn usage_rows(&self, resource: &str) -> Vec<Value> {
        let mut rows = Vec::new();
        for page in 1.. {
            let path = format!("{USAGES}?resource_uuid={resource}&page_size=300&page={page}");
            let reply = self.get(&path).await;
            let total = reply.result_count.expect("X-Result-Count");
            rows.extend(reply.expect(200).as_array().expect("usage rows").iter().cloned());
            if rows.len() >= total {
                assert_eq!(rows.len(), total, "pages add up to X-Result-Count");
                break;
            }
        }
        rows
    }
}

/// A transport error with its causes (reqwest's own message alone says only "error sending
/// request").
pub fn describe(error: &reqwest::Error) -> String {
    let mut text = format!(
        "transport error{}: {error}",
        if error.is_timeout() { " (timeout)" } else { "" }
    );
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// A 2-place decimal string as an exact integer of hundredths ("12.50" → 1250). Panics on any
/// other shape: the API promises exactly two places.
pub fn hundredths(decimal: &str) -> i64 {
    let (negative, digits) = match decimal.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, decimal),
    };
    let (whole, fraction) = digits
        .split_once('.')
        .unwrap_or_else(|| panic!("not a 2-place decimal: {decimal}"));
    assert!(
        fraction.len() == 2 && fraction.bytes().all(|b| b.is_ascii_digit()),
        "not a 2-place decimal: {decimal}"
    );
    let value = whole.parse::<i64>().expect("whole part") * 100 + fraction.parse::<i64>().expect("fraction");
    if negative {
        -value
    } else {
        value
    }
}

/// Hundredths as the API writes them (1250 → "12.50").
pub fn decimal(hundredths: i64) -> String {
    let sign = if hundredths < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", hundredths.abs() / 100, hundredths.abs() % 100)
}

/// The first day of the month `back` months before the current UTC month, as `YYYY-MM-01`:
/// a staff report with this date lands in that billing month.
pub fn month_start(back: u32) -> String {
    use chrono::Datelike;
    let today = chrono::Utc::now().date_naive();
    let index = today.year() * 12 + today.month0() as i32 - back as i32;
    format!("{:04}-{:02}-01", index.div_euclid(12), index.rem_euclid(12) + 1)
}

/// The marketplace the fixtures of the API tests build, made over HTTP: a consumer customer with
/// a project and an owner, and a provider with an active offering whose `cpu_hours` is billed by
/// usage and `storage_gb` by limit.
pub struct Marketplace {
    pub customer: Value,
    pub project: Value,
    pub offering: Value,
    pub owner: Api,
    pub provider: Api,
}

impl Marketplace {
    pub async fn build(staff: &Api) -> Self {
        let customer = staff
            .post("/api/customers/", json!({"name": "Consumer Org"}))
            .await
            .expect(201);
        let project = staff
            .post(
                "/api/projects/",
                json!({"customer": customer["url"], "name": "Research"}),
            )
            .await
            .expect(201);
        let (owner_uuid, owner) = staff.new_user("owner").await;
        grant(staff, &customer, &owner_uuid).await;

        let provider_customer = staff
            .post("/api/customers/", json!({"name": "Provider Org"}))
            .await
            .expect(201);
        let (provider_uuid, provider) = staff.new_user("provider").await;
        grant(staff, &provider_customer, &provider_uuid).await;
        staff
            .post(
                "/api/marketplace-service-providers/",
                json!({"customer": provider_customer["url"]}),
            )
            .await
            .expect(201);
        let category = staff
            .post("/api/marketplace-categories/", json!({"title": "HPC"}))
            .await
            .expect(201);
        let offering = staff
            .post(
                "/api/marketplace-provider-offerings/",
                json!({
                    "name": "Cluster",
                    "category": category["url"],
                    "type": "Marketplace.Basic",
                    "customer": provider_customer["url"],
                    "plugin_options": {"supports_pausing": true, "supports_downscaling": true,
                                       "service_provider_can_create_offering_user": true},
                    "components": [
                        {"type": "cpu_hours", "name": "CPU hours", "billing_type": "usage", "measured_unit": "hours"},
                        {"type": "storage_gb", "name": "Storage", "billing_type": "limit", "measured_unit": "GB"}
                    ],
                    "plans": [{"name": "Default", "unit": "month", "unit_price": "10.00"}]
                }),
            )
            .await
            .expect(201);
        let uuid = offering["uuid"].as_str().expect("offering uuid");
        staff
            .post(
                &format!("/api/marketplace-provider-offerings/{uuid}/activate/"),
                json!({}),
            )
            .await
            .expect(200);
        Self {
            customer,
            project,
            offering,
            owner,
            provider,
        }
    }

    pub fn customer_url(&self) -> &str {
        self.customer["url"].as_str().expect("customer url")
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

    /// `count` resources in state OK, each through a Create order taken all the way (the orders
    /// run concurrently); returns their uuids in name order.
    pub async fn resources(&self, count: usize) -> Vec<String> {
        let offering = self.offering["uuid"].as_str().expect("offering uuid");
        let plan = self.offering["plans"][0]["uuid"].as_str().expect("plan uuid");
        let public = format!("/api/marketplace-public-offerings/{offering}/");
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..count {
            let (owner, provider) = (self.owner.clone(), self.provider.clone());
            // Hyperlink inputs are resolved by their path; the host part is ignored.
            let body = json!({
                "offering": public,
                "plan": format!("{public}plans/{plan}/"),
                "project": self.project["url"],
                "attributes": {"name": format!("vm-{i:02}")},
                "limits": {"storage_gb": 10}
            });
            tasks.spawn(async move {
                let order = owner.post("/api/marketplace-orders/", body).await.expect(201);
                let uuid = order["uuid"].as_str().expect("order uuid");
                for (step, api) in [
                    ("approve_by_consumer", &owner),
                    ("approve_by_provider", &provider),
                    ("set_state_done", &provider),
                ] {
                    api.post(&format!("/api/marketplace-orders/{uuid}/{step}/"), json!({}))
                        .await
                        .expect(200);
                }
                let resource = order["marketplace_resource_uuid"].as_str().expect("resource uuid");
                (i, resource.to_string())
            });
        }
        let mut made: Vec<(usize, String)> = tasks.join_all().await;
        made.sort();
        made.into_iter().map(|(_, uuid)| uuid).collect()
    }

    /// A policy on the consumer customer with one Total (period 1) limit on `cpu_hours`.
    pub async fn cpu_policy(&self, staff: &Api, limit: i64, actions: &str) -> String {
        self.cpu_policy_with(staff, limit, actions, json!({})).await
    }

    /// The same, with `options` (e.g. `{"notify_external_user": "a@example.org"}`).
    pub async fn cpu_policy_with(&self, staff: &Api, limit: i64, actions: &str, options: Value) -> String {
        let body = json!({
            "scope": self.customer_url(), "actions": actions, "options": options,
            "component_limits_set": [{"component": self.component("cpu_hours"), "limit": limit, "period": 1}]
        });
        let policy = staff.post(POLICIES, body).await.expect(201);
        policy["uuid"].as_str().expect("policy uuid").to_string()
    }
}

async fn grant(staff: &Api, customer: &Value, user_uuid: &str) {
    let uuid = customer["uuid"].as_str().expect("customer uuid");
    staff
        .post(
            &format!("/api/customers/{uuid}/add_user/"),
            json!({"user": user_uuid, "role": "CUSTOMER.OWNER"}),
        )
        .await
        .expect(201);
}
