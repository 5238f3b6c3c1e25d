//! The dashboard (docs/dashboard.md) in a real browser: a headless Chromium, driven through
//! WebDriver, against a real server on each backend. Screenshots go to target/dashboard/.

#[path = "browser/driver.rs"]
mod driver;
#[allow(dead_code)]
#[path = "api/fixtures.rs"]
mod fixtures;
#[allow(dead_code, unused_macros)]
#[path = "api/helpers.rs"]
mod helpers;

use chrono::{DateTime, Utc};
use driver::{Browser, NARROW, WIDE};
use fixtures::{marketplace, Marketplace};
use helpers::{spawn_app, Backend, TestApp};
use serde_json::{json, Value};

/// WebDriver's Enter key.
const ENTER: &str = "\u{E007}";
const SET_USAGE: &str = "/api/marketplace-component-usages/set_usage/";
const POLICIES: &str = "/api/marketplace-customer-component-usage-policies/";
const GRANTS: &str = "/api/marketplace-component-usage-grants/";
const DRY_RUN: &str = "/dashboard/fragments/dry-run/";
/// A period of one calendar month (docs/api.md).
const MONTH: i64 = 2;

/// One browser at a time: two at once only make each slower on a small machine.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn sqlite() {
    dashboard_shows_each_user_what_they_may_see(Backend::Sqlite).await
}

#[tokio::test]
async fn postgres() {
    dashboard_shows_each_user_what_they_may_see(Backend::Postgres).await
}

async fn report(app: &TestApp, m: &Marketplace, resource: &str, amount: &str) {
    let body = json!({"resource": resource, "usages": [{"type": "cpu_hours", "amount": amount}]});
    app.post(SET_USAGE, m.provider_token(), body).await.expect(201);
}

/// A second customer, first by name, that the owner has no role in, with a resource, a policy at
/// 85 % that warns at 50 and 80 %, and a policy over its limit whose pause waits an hour.
async fn physics(app: &TestApp, m: &Marketplace) -> (Value, String, String) {
    let customer = app.customer("Astrophysics Department").await;
    let url = customer["url"].as_str().expect("url");
    let project = app.project(url, "Detectors").await;
    let resource = m.resource_in(app, &project["url"], app.staff(), "gpu-node").await;
    let body = json!({
        "scope": url, "actions": "notify_organization_owners", "warning_thresholds": [50, 80],
        "component_limits_set": [{"component": m.component("cpu_hours"), "limit": 200, "period": MONTH}]
    });
    let policy = app.post(POLICIES, app.staff(), body).await.expect(201);
    let body = json!({
        "scope": url, "actions": "request_pausing", "options": {"request_pausing": {"grace_minutes": 60}},
        "component_limits_set": [{"component": m.component("cpu_hours"), "limit": 150, "period": MONTH}]
    });
    let graced = app.post(POLICIES, app.staff(), body).await.expect(201);
    report(app, m, &resource, "170").await;
    let uuid = |p: &Value| p["uuid"].as_str().expect("uuid").to_string();
    (customer, uuid(&policy), uuid(&graced))
}

/// Signs in with the keyboard only: typing, then Enter in the password field.
async fn sign_in(browser: &Browser, app: &TestApp, username: &str, password: &str) {
    browser.open(app, "#/").await;
    browser.type_into("#sign-in:not([hidden]) #username", username).await;
    browser.type_into("#password", &format!("{password}{ENTER}")).await;
    browser.view("loaded").await;
}

/// Types `limit` into the dry-run form in place of what it held, submits, and waits for a result
/// whose verdict starts with `verdict`.
async fn dry_run_with_limit(browser: &Browser, limit: &str, verdict: &str) {
    browser.element("#dr-limit").await.clear().await.expect("clear");
    browser.type_into("#dr-limit", limit).await;
    browser.click("#dry-run-form button[type=submit]").await;
    browser
        .text_when(".dry-run-result .verdict", verdict, |t| t.starts_with(verdict))
        .await;
}

async fn dashboard_shows_each_user_what_they_may_see(backend: Backend) {
    let _one = ONE_BROWSER.lock().await;
    let app = spawn_app(backend).await;
    let m = marketplace(&app).await;
    let vm = m.resource(&app, "vm-1").await;
    let policy = m.cpu_policy(&app, "request_pausing", 100, MONTH).await;
    // Upcoming, so it adds nothing yet and the gauges below keep their percents.
    let body = json!({
        "policy": app.url(&format!("{POLICIES}{policy}/")), "component": m.component("cpu_hours"),
        "amount": "25", "starts_at": "2097-01-01T00:00:00Z", "expires_at": "2098-01-01T00:00:00Z",
        "reason": "Conference deadline"
    });
    let grant = app.post(GRANTS, app.staff(), body).await.expect(201)["uuid"]
        .as_str()
        .expect("uuid")
        .to_string();
    report(&app, &m, &vm, "40").await;
    let (physics, physics_policy, graced_policy) = physics(&app, &m).await;
    let physics_uuid = physics["uuid"].as_str().expect("uuid");
    let browser = Browser::start().await;
    let tag = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };

    // The owner sees their customer only, its gauge at 40 %.
    sign_in(&browser, &app, "owner", "pass-1234").await;
    let row = format!("tr[data-policy=\"{policy}\"][data-component=\"cpu_hours\"]");
    let gauge = browser
        .text_when(&format!("{row} .gauge"), "40 %", |t| t.contains("40.00 %"))
        .await;
    assert!(gauge.contains("Within limit"), "the state is said in words: {gauge:?}");
    assert_eq!(browser.count("section.customer").await, 1, "only the owner's customer");
    assert_eq!(browser.count(&format!("[data-customer=\"{physics_uuid}\"]")).await, 0);

    // Everything the page loaded came from the server's own origin.
    let foreign = browser
        .client
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name)\
             .filter(n => new URL(n).origin !== location.origin);",
            vec![],
        )
        .await
        .expect("resources loaded");
    assert_eq!(foreign, json!([]), "requests that left the origin");
    // The views need the token: without it a fragment answers 401, as the API does.
    let anonymous = app
        .call(reqwest::Method::GET, "/dashboard/fragments/overview/", None, None)
        .await;
    assert_eq!(anonymous.status, 401);

    // Over the limit: after a reload the policy is fired and the resource paused.
    let before_fire = Utc::now();
    report(&app, &m, &vm, "120").await;
    let after_fire = Utc::now();
    browser.client.refresh().await.expect("reload");
    browser.view("loaded").await;
    browser
        .text_when(&format!("{row} .gauge"), "120 % over", |t| {
            t.contains("120.00 %") && t.contains("Over limit")
        })
        .await;
    browser
        .text_when(&format!("{row} .badge.fired"), "the fired badge", |t| {
            t.starts_with("Fired")
        })
        .await;
    browser
        .text_when(&format!("[data-resource=\"{vm}\"]"), "the held restriction", |t| {
            t.contains("vm-1: paused") && t.contains(&format!("paused held by policy {}", &policy[..8]))
        })
        .await;
    browser.screenshot(&format!("owner-overview-{tag}")).await;

    // The customer's page: its policy's chart with the limit line, and the fire in its events.
    browser
        .click(&format!("a[href=\"#/customers/{}\"]", m.customer_uuid()))
        .await;
    browser
        .text_when("#content h1", "the customer's name", |t| t == "Consumer Org")
        .await;
    browser
        .element(&format!("article[data-policy=\"{policy}\"] svg .limit-line"))
        .await;
    assert_eq!(
        browser.count("svg .bar.over").await,
        1,
        "this month's bar is over the limit"
    );
    browser
        .text_when(".timeline", "the pausing event", |t| t.contains("request_pausing"))
        .await;
    // The policy's grant, its state in words; the owner may not dry run, so sees no form, and
    // the fragment refuses them as the API does.
    browser
        .text_when(&format!("tr[data-grant=\"{grant}\"]"), "the upcoming grant", |t| {
            t.contains("25.00") && t.contains("Conference deadline") && t.contains("staff") && t.contains("Upcoming")
        })
        .await;
    assert_eq!(
        browser.count("#dry-run-form").await,
        0,
        "only staff see the dry-run form"
    );
    let body = json!({"scope": m.customer_url(), "actions": "notify_organization_owners"});
    app.post(DRY_RUN, m.owner_token(), body).await.expect(403);
    browser.screenshot(&format!("owner-customer-{tag}")).await;

    // Another customer's page looks exactly like a missing one's.
    browser.open(&app, &format!("#/customers/{physics_uuid}")).await;
    browser.view("missing").await;
    let hidden = browser.element("#content").await.html(true).await.expect("html");
    browser.open(&app, "#/customers/00000000000000000000000000000000").await;
    browser.view("missing").await;
    let missing = browser.element("#content").await.html(true).await.expect("html");
    assert_eq!(hidden, missing);
    assert!(!hidden.contains("Physics"), "{hidden}");

    // Staff see every customer; fullest first puts the fired one on top.
    browser.click("#sign-out").await;
    browser.view("sign-in").await;
    sign_in(&browser, &app, "staff", "staff-password").await;
    assert_eq!(browser.count("section.customer").await, 3, "staff see every customer");
    browser
        .text_when("section.customer h2", "names in order", |t| {
            t.starts_with("Astrophysics")
        })
        .await;
    browser
        .element("#sort")
        .await
        .select_by_value("percent")
        .await
        .expect("order");
    browser.click("#overview-controls button").await;
    browser
        .text_when("section.customer h2", "the fullest customer first", |t| {
            t.starts_with("Consumer Org")
        })
        .await;
    browser
        .text_when(
            &format!("tr[data-policy=\"{physics_policy}\"] .gauge"),
            "85 % near",
            |t| t.contains("85.00 %") && t.contains("Near limit") && t.contains("warns at 50, 80 %"),
        )
        .await;
    browser
        .text_when(
            &format!("tr[data-policy=\"{physics_policy}\"]"),
            "the warning level reached",
            |t| t.contains("Warning: 80 % reached"),
        )
        .await;
    browser
        .text_when(
            &format!("tr[data-policy=\"{graced_policy}\"]"),
            "the pause waiting out its grace",
            |t| t.contains("Fired") && t.contains("request_pausing waits until"),
        )
        .await;
    let wide = browser.screenshot(&format!("overview-{tag}")).await;
    browser.resize(NARROW).await;
    assert!(browser.fits_its_width().await, "at 390 px nothing scrolls sideways");
    browser.screenshot(&format!("overview-390-{tag}")).await;
    browser.resize(WIDE).await;

    // The filter box narrows the customers by name.
    browser.type_into("#filter", "physics").await;
    browser.click("#overview-controls button").await;
    browser
        .text_when("p.meta", "one customer", |t| t.starts_with("1 customer ·"))
        .await;
    browser
        .text_when("section.customer h2", "Physics", |t| {
            t.starts_with("Astrophysics Department")
        })
        .await;

    // Staff open the customer the owner could not.
    browser.open(&app, &format!("#/customers/{physics_uuid}")).await;
    browser.view("loaded").await;
    browser
        .text_when("#content h1", "Physics", |t| t == "Astrophysics Department")
        .await;
    browser
        .element(&format!("article[data-policy=\"{physics_policy}\"] svg"))
        .await;
    browser.resize(NARROW).await;
    assert!(browser.fits_its_width().await, "a customer's page fits 390 px too");
    browser.screenshot(&format!("customer-390-{tag}")).await;
    browser.resize(WIDE).await;

    // Staff dry run a policy on the customer's page: a bad value shows the API's message next to
    // its field; then the replay fires at the report that crossed the limit.
    browser.open(&app, &format!("#/customers/{}", m.customer_uuid())).await;
    browser.view("loaded").await;
    browser
        .text_when(
            &format!("tr[data-grant=\"{grant}\"] .state"),
            "the grant's state",
            |t| t == "Upcoming",
        )
        .await;
    browser
        .element("#dr-component")
        .await
        .select_by_value(&m.component("cpu_hours"))
        .await
        .expect("component");
    browser.type_into("#dr-limit", "lots").await;
    browser
        .click("#dry-run-form input[value=\"notify_organization_owners\"]")
        .await;
    browser.click("#dry-run-form button[type=submit]").await;
    browser
        .text_when("[data-error=\"limit\"]", "the limit's 400 message", |t| {
            t == "A valid integer is required."
        })
        .await;
    assert_eq!(
        browser.count(".dry-run-result").await,
        0,
        "a refused body shows no result"
    );
    dry_run_with_limit(&browser, "100", "Would fire now").await;
    browser
        .text_when("[data-error=\"limit\"]", "the message gone", str::is_empty)
        .await;
    browser
        .text_when(".dry-run-result .counts", "one fire", |t| {
            t.starts_with("1 fire, 0 resets")
        })
        .await;
    let fire = browser.element(".dry-run-timeline li[data-transition=\"fire\"]").await;
    let text = fire.text().await.expect("text");
    assert!(
        text.contains("reported") && text.contains("cpu_hours, 1 month window: 120.00 of 100"),
        "{text}"
    );
    let at = fire
        .find(fantoccini::Locator::Css("time"))
        .await
        .expect("time")
        .attr("datetime")
        .await
        .expect("datetime")
        .expect("a datetime");
    let at: DateTime<Utc> = at.parse().expect("RFC 3339");
    assert!(
        before_fire <= at && at <= after_fire,
        "the fire is the 120 report's: {at} not in {before_fire} – {after_fire}"
    );
    browser.screenshot(&format!("customer-dry-run-{tag}")).await;

    // A change to the saved policy: the form is filled with it; at 150 it would never have fired
    // and, fired now, it would reset.
    browser
        .click(&format!("article[data-policy=\"{policy}\"] button.dry-run-change"))
        .await;
    browser
        .text_when("#dry-run-mode", "the policy being changed", |t| {
            t.contains(&policy[..8])
        })
        .await;
    let limit = browser.element("#dr-limit").await;
    assert_eq!(limit.prop("value").await.expect("value").as_deref(), Some("100"));
    dry_run_with_limit(&browser, "150", "Would not fire now").await;
    browser
        .text_when(".dry-run-result .counts", "no fire", |t| t.starts_with("0 fires"))
        .await;

    // Global support see every customer too.
    let (support, _) = app.user("helpdesk").await;
    app.patch(
        &format!("/api/users/{support}/"),
        app.staff(),
        json!({"is_support": true}),
    )
    .await
    .expect(200);
    browser.click("#sign-out").await;
    browser.view("sign-in").await;
    sign_in(&browser, &app, "helpdesk", "pass-1234").await;
    browser
        .text_when("p.meta", "every customer", |t| t.starts_with("3 customers"))
        .await;
    browser.close().await;
    assert!(wide.exists());
}
