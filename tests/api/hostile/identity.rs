//! Hostile inputs: identity. Guessing passwords in parallel, keeping tokens alive past a password
//! change or for ever, an owner handing out ownership, racing grants, a user locking itself out.

use crate::api_test;
use crate::fixtures::marketplace;
use crate::helpers::{spawn_app_at_with, spawn_app_with, Backend, TestApp};
use crate::sinks::eventually;
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Instant;
use tokio::task::JoinSet;

const LOGIN: &str = "/api-auth/password/";
const INVALID: &str = "Invalid username/password";
const LOCKED: &str = "Username is locked out. Try in 10 minutes.";

/// Sends a login, from `forwarded_for` when given; returns its status and `detail`. Owns what it
/// needs, so that tests can spawn many at once.
fn login(
    app: &TestApp,
    username: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> impl std::future::Future<Output = (u16, Value)> + Send + 'static {
    let mut req = app
        .http
        .post(app.url(LOGIN))
        .json(&json!({"username": username, "password": password}));
    if let Some(ip) = forwarded_for {
        req = req.header("X-Forwarded-For", ip);
    }
    async move {
        let r = req.send().await.expect("login");
        let status = r.status().as_u16();
        let body: Value = r.json().await.expect("login body");
        (status, body["detail"].clone())
    }
}

async fn me(app: &TestApp, token: &str) -> (u16, Value) {
    let r = app.get("/api/users/me/", token).await;
    (r.status.as_u16(), r.body["detail"].clone())
}

/// The staff token would otherwise expire in the first hour a test moves its clock past.
async fn staff_token_never_expires(app: &TestApp) {
    let staff = app.get("/api/users/me/", app.staff()).await.expect(200);
    let path = format!("/api/users/{}/", staff["uuid"].as_str().unwrap());
    app.patch(&path, app.staff(), json!({"token_lifetime": i32::MAX}))
        .await
        .expect(200);
}

api_test!(
    async fn parallel_wrong_logins_get_at_most_max_failures_password_checks(app) {
        app.user("alice").await;
        let mut attempts = JoinSet::new();
        for _ in 0..40 {
            attempts.spawn(login(&app, "alice", "wrong", None));
        }
        let outcomes = attempts.join_all().await;
        let count = |detail: &str| outcomes.iter().filter(|(s, d)| *s == 401 && d == detail).count();
        // Each attempt is counted before its password is checked, in one statement: exactly four
        // get their password checked, whatever the interleaving; the rest are locked out.
        assert_eq!((count(INVALID), count(LOCKED)), (4, 36), "{outcomes:?}");
        assert_eq!(login(&app, "alice", "pass-1234", None).await, (401, json!(LOCKED)));
    }
);

api_test!(
    async fn password_checks_leave_the_service_responsive(app) {
        // One password check alone, for scale: the fastest of two.
        let mut check = std::time::Duration::MAX;
        for i in 0..2 {
            let started = Instant::now();
            login(&app, &format!("alone{i}"), "guess", None).await;
            check = check.min(started.elapsed());
        }
        // Unknown usernames are checked against a dummy hash, so each of these costs a full
        // Argon2 run, as a known username's wrong password does.
        let mut attempts = JoinSet::new();
        for i in 0..40 {
            attempts.spawn(login(&app, &format!("nobody{i}"), "guess", None));
        }
        let mut outcomes = Vec::new();
        let mut probes = Vec::new();
        while !attempts.is_empty() && probes.len() < 50 {
            let started = Instant::now();
            let health = app.http.get(app.url("/health/")).send().await.expect("health");
            assert_eq!(health.status(), StatusCode::OK);
            probes.push(started.elapsed());
            while let Some(done) = attempts.try_join_next() {
                outcomes.push(done.expect("login task"));
            }
        }
        outcomes.extend(attempts.join_all().await);
        assert_eq!(outcomes.len(), 40);
        assert!(outcomes.iter().all(|o| *o == (401, json!(INVALID))), "{outcomes:?}");
        // Loose on purpose, so a loaded machine's stalls do not decide it: with the hashing on
        // the async workers, the typical probe waited about a check's time; off them, a few
        // milliseconds.
        probes.sort();
        let median = probes[probes.len() / 2];
        assert!(median < check / 2, "/health/ took {median:?} (median) during logins, one login {check:?}: {probes:?}");
        assert!(probes.iter().all(|p| *p < std::time::Duration::from_secs(2)), "{probes:?}");
    }
);

api_test!(
    async fn a_forged_forwarded_for_does_not_escape_a_lockout(app) {
        app.user("bob").await;
        for _ in 0..4 {
            assert_eq!(login(&app, "bob", "wrong", None).await, (401, json!(INVALID)));
        }
        // meterguard does not trust proxy headers by default: the peer address decides.
        assert_eq!(login(&app, "bob", "pass-1234", Some("198.51.100.7")).await, (401, json!(LOCKED)));
        // Another peer address is another client (all of 127.0.0.0/8 is this machine), so a
        // guesser cannot lock the owner of the username out from elsewhere.
        let elsewhere = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
            .build()
            .unwrap();
        let r = elsewhere
            .post(app.url(LOGIN))
            .json(&json!({"username": "bob", "password": "pass-1234"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
);

api_test!(
    backend,
    async fn behind_a_trusted_proxy_lockouts_are_per_client_address(backend) {
        let app = spawn_app_with(backend, |s| s.trust_proxy_headers = true).await;
        app.user("carol").await;
        for _ in 0..4 {
            let r = login(&app, "carol", "wrong", Some("198.51.100.1")).await;
            assert_eq!(r, (401, json!(INVALID)));
        }
        assert_eq!(login(&app, "carol", "pass-1234", Some("198.51.100.1")).await, (401, json!(LOCKED)));
        // The proxy appends the address it saw; what the client put before it does not count.
        let forged = "198.51.100.2, 198.51.100.1";
        assert_eq!(login(&app, "carol", "pass-1234", Some(forged)).await, (401, json!(LOCKED)));
        let (status, _) = login(&app, "carol", "pass-1234", Some("198.51.100.2")).await;
        assert_eq!(status, 200);
    }
);

/// An app on a manual clock whose retention pass runs only at start (within the test).
async fn clock_app(backend: Backend) -> TestApp {
    spawn_app_at_with(backend, "2026-03-10T12:00:00Z", |s| {
        s.retention_interval_seconds = 30 * 86_400
    })
    .await
}

api_test!(
    backend,
    async fn tokens_expire_an_hour_after_their_last_use(backend) {
        let app = clock_app(backend).await;
        let (uuid, idle) = app.user("dave").await;
        let (_, busy) = app.user("dave2").await;
        staff_token_never_expires(&app).await;

        app.clock.advance(Duration::seconds(30));
        // A use within a minute of the last recorded one is not written down...
        assert_eq!(me(&app, &idle).await.0, 200);
        app.clock.advance(Duration::seconds(31));
        // ...one after a minute is.
        assert_eq!(me(&app, &busy).await.0, 200);
        app.clock.advance(Duration::seconds(3600 - 61 + 1));
        assert_eq!(me(&app, &idle).await, (401, json!("Token has expired.")));
        assert_eq!(me(&app, &busy).await.0, 200);
        // An expired token stays expired: a refused request does not count as a use.
        app.clock.advance(Duration::seconds(120));
        assert_eq!(me(&app, &idle).await, (401, json!("Token has expired.")));

        // A user's own token_lifetime wins over the default.
        app.patch(&format!("/api/users/{uuid}/"), app.staff(), json!({"token_lifetime": 120})).await.expect(200);
        let token = app
            .call(reqwest::Method::POST, LOGIN, None, Some(json!({"username": "dave", "password": "pass-1234"})))
            .await
            .expect(200)["token"]
            .as_str()
            .unwrap()
            .to_string();
        app.clock.advance(Duration::seconds(121));
        assert_eq!(me(&app, &token).await, (401, json!("Token has expired.")));
    }
);

api_test!(
    async fn a_password_change_revokes_every_other_token(app) {
        let (uuid, first) = app.user("erin").await;
        let password = json!({"username": "erin", "password": "pass-1234"});
        let second = app.call(reqwest::Method::POST, LOGIN, None, Some(password.clone())).await.expect(200);
        let second = second["token"].as_str().unwrap().to_string();
        let third = app.call(reqwest::Method::POST, LOGIN, None, Some(password)).await.expect(200);
        let third = third["token"].as_str().unwrap().to_string();
        // Seen (and cached) before the change: the revocation must not wait for the cache.
        assert_eq!(me(&app, &first).await.0, 200);
        assert_eq!(me(&app, &third).await.0, 200);

        let change = format!("/api/users/{uuid}/change_password/");
        app.post(&change, &second, json!({"new_password": "new-pass-1"})).await.expect(200);
        assert_eq!(me(&app, &second).await.0, 200, "the token that made the change goes on");
        assert_eq!(me(&app, &first).await, (401, json!("Invalid token.")));
        assert_eq!(me(&app, &third).await, (401, json!("Invalid token.")));

        // Staff changing it keeps none of the user's tokens, and its own.
        app.post(&change, app.staff(), json!({"new_password": "new-pass-2"})).await.expect(200);
        assert_eq!(me(&app, &second).await, (401, json!("Invalid token.")));
        assert_eq!(me(&app, app.staff()).await.0, 200);
        let login_new = json!({"username": "erin", "password": "new-pass-2"});
        app.call(reqwest::Method::POST, LOGIN, None, Some(login_new)).await.expect(200);
    }
);

/// A fired policy, so that the app has events to keep or prune.
async fn some_events(app: &TestApp) -> usize {
    let m = marketplace(app).await;
    let body = json!({
        "scope": m.customer_url(), "actions": "request_pausing",
        "component_limits_set": [{"component": m.component("cpu_hours"), "limit": 100, "period": 1}]
    });
    app.post("/api/marketplace-customer-component-usage-policies/", app.staff(), body)
        .await
        .expect(201);
    let vm = m.resource(app, "vm").await;
    let usage = json!({"resource": vm, "usages": [{"type": "cpu_hours", "amount": "150"}]});
    app.post(
        "/api/marketplace-component-usages/set_usage/",
        m.provider_token(),
        usage,
    )
    .await
    .expect(201);
    event_count(app).await
}

async fn event_count(app: &TestApp) -> usize {
    let r = app.get("/api/events/", app.staff()).await;
    r.header("x-result-count")
        .and_then(|c| c.parse().ok())
        .expect("x-result-count")
}

/// Moves the clock a day and a half, then waits for the retention pass: expired tokens are gone.
async fn a_day_and_a_half_later(app: &TestApp) {
    let (_, token) = app.user("frank").await;
    app.clock.advance(Duration::hours(36));
    eventually("the retention pass deletes the expired token", || async {
        me(app, &token).await == (401, json!("Invalid token."))
    })
    .await;
}

api_test!(
    backend,
    async fn retention_prunes_expired_tokens_and_events_only_when_asked(backend) {
        let keep = spawn_app_at_with(backend, "2026-03-10T12:00:00Z", |_| {}).await;
        staff_token_never_expires(&keep).await;
        let events = some_events(&keep).await;
        assert!(events > 0);
        a_day_and_a_half_later(&keep).await;
        assert_eq!(event_count(&keep).await, events, "events are kept by default");

        let prune = spawn_app_at_with(backend, "2026-03-10T12:00:00Z", |s| s.event_retention_days = Some(1)).await;
        staff_token_never_expires(&prune).await;
        assert!(some_events(&prune).await > 0);
        a_day_and_a_half_later(&prune).await;
        eventually("events older than a day are pruned", || async { event_count(&prune).await == 0 }).await;
    }
);

api_test!(
    async fn only_staff_grant_change_or_revoke_ownership(app) {
        let customer = app.customer("Acme").await;
        let cu = customer["uuid"].as_str().unwrap();
        let project = app.project(customer["url"].as_str().unwrap(), "P").await;
        let pu = project["uuid"].as_str().unwrap();
        let (owner_uuid, owner) = app.user("owner").await;
        let (other_uuid, _) = app.user("other").await;
        let (co_owner_uuid, _) = app.user("coowner").await;
        app.grant("customers", cu, &owner_uuid, "CUSTOMER.OWNER").await;
        app.grant("customers", cu, &co_owner_uuid, "CUSTOMER.OWNER").await;

        let denied = json!({"detail": "You do not have permission to perform this action."});
        for action in ["add_user", "update_user", "delete_user"] {
            let path = format!("/api/customers/{cu}/{action}/");
            let r = app.post(&path, &owner, json!({"user": other_uuid, "role": "CUSTOMER.OWNER"})).await;
            assert_eq!(r.expect(403), denied, "{action} of a new owner");
            let r = app.post(&path, &owner, json!({"user": co_owner_uuid, "role": "CUSTOMER.OWNER"})).await;
            assert_eq!(r.expect(403), denied, "{action} of a fellow owner");
        }
        let owners = app.get(&format!("/api/customers/{cu}/list_users/"), app.staff()).await.expect(200);
        assert_eq!(owners.as_array().unwrap().len(), 2, "the fellow owner kept the role");

        // Owners still manage the other roles.
        let add = format!("/api/customers/{cu}/add_user/");
        app.post(&add, &owner, json!({"user": other_uuid, "role": "CUSTOMER.MANAGER"})).await.expect(201);
        let delete = format!("/api/customers/{cu}/delete_user/");
        app.post(&delete, &owner, json!({"user": other_uuid, "role": "CUSTOMER.MANAGER"})).await.expect(200);
        let add_p = format!("/api/projects/{pu}/add_user/");
        app.post(&add_p, &owner, json!({"user": other_uuid, "role": "PROJECT.ADMIN"})).await.expect(201);
        // And staff manage ownership.
        app.post(&add, app.staff(), json!({"user": other_uuid, "role": "CUSTOMER.OWNER"})).await.expect(201);
        app.post(&delete, app.staff(), json!({"user": co_owner_uuid, "role": "CUSTOMER.OWNER"})).await.expect(200);
    }
);

api_test!(
    async fn parallel_grants_of_one_role_make_one_grant(app) {
        let customer = app.customer("Acme").await;
        let cu = customer["uuid"].as_str().unwrap().to_string();
        let (user_uuid, _) = app.user("grace").await;
        let mut adds = JoinSet::new();
        for _ in 0..12 {
            let req = app
                .http
                .post(app.url(&format!("/api/customers/{cu}/add_user/")))
                .header("Authorization", format!("Token {}", app.staff()))
                .json(&json!({"user": user_uuid, "role": "CUSTOMER.SUPPORT"}));
            adds.spawn(async move {
                let r = req.send().await.expect("add_user");
                (r.status().as_u16(), r.json::<Value>().await.expect("body"))
            });
        }
        let outcomes = adds.join_all().await;
        let created = outcomes.iter().filter(|(s, _)| *s == 201).count();
        let refused = outcomes
            .iter()
            .filter(|o| **o == (400, json!(["User has already the same role in this scope."])))
            .count();
        assert_eq!((created, refused), (1, 11), "{outcomes:?}");
        let grants = app.get(&format!("/api/customers/{cu}/list_users/"), app.staff()).await;
        assert_eq!(grants.header("x-result-count").as_deref(), Some("1"));

        // After a revocation, or once a grant expires, the role can be granted again.
        let delete = format!("/api/customers/{cu}/delete_user/");
        app.post(&delete, app.staff(), json!({"user": user_uuid, "role": "CUSTOMER.SUPPORT"})).await.expect(200);
        let add = format!("/api/customers/{cu}/add_user/");
        // Seconds ahead, so a slow request on a loaded machine still grants before it expires.
        let soon = chrono::Utc::now() + Duration::seconds(3);
        let body = json!({"user": user_uuid, "role": "CUSTOMER.SUPPORT", "expiration_time": soon.to_rfc3339()});
        app.post(&add, app.staff(), body).await.expect(201);
        let left = (soon - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(left + std::time::Duration::from_millis(100)).await;
        app.post(&add, app.staff(), json!({"user": user_uuid, "role": "CUSTOMER.SUPPORT"})).await.expect(201);
        let grants = app.get(&format!("/api/customers/{cu}/list_users/"), app.staff()).await;
        assert_eq!(grants.header("x-result-count").as_deref(), Some("1"));
    }
);

api_test!(
    async fn nobody_deactivates_or_deletes_itself(app) {
        let staff = app.get("/api/users/me/", app.staff()).await.expect(200);
        let staff_path = format!("/api/users/{}/", staff["uuid"].as_str().unwrap());
        // The only staff user: deactivating or deleting it would leave nobody to administer.
        let r = app.patch(&staff_path, app.staff(), json!({"is_active": false})).await;
        assert_eq!(r.expect(400), json!({"is_active": ["You cannot deactivate yourself."]}));
        let r = app.delete(&staff_path, app.staff()).await;
        assert_eq!(r.expect(400), json!(["You cannot delete yourself."]));
        assert_eq!(me(&app, app.staff()).await.0, 200);

        // A plain user cannot deactivate itself either (the flag is staff's to set, and ignored).
        let (hank_uuid, hank) = app.user("hank").await;
        let r = app.patch(&format!("/api/users/{hank_uuid}/"), &hank, json!({"is_active": false})).await;
        assert_eq!(r.expect(200)["is_active"], true);

        // Another staff user may do either to it.
        let (second_uuid, second) = app.user("second").await;
        app.patch(&format!("/api/users/{second_uuid}/"), app.staff(), json!({"is_staff": true})).await.expect(200);
        app.patch(&staff_path, &second, json!({"is_active": false})).await.expect(200);
        app.patch(&staff_path, &second, json!({"is_active": true})).await.expect(200);
        app.delete(&staff_path, &second).await.expect(204);

    }
);

api_test!(
    backend,
    async fn retention_prunes_login_failures_tokens_and_deliveries_once_due(backend) {
        use meterguard::config::{DatabaseSettings, Settings};
        use meterguard::service::retention::{prune, Pruned, Retention};
        use meterguard::service::users::{self, Lockout, LoginRefused};
        use meterguard::domain::user::UserFields;
        use meterguard::store::{outbox, Db};

        let (url, _dir) = crate::helpers::database_url(backend).await;
        let db = Db::connect(&DatabaseSettings::new(url.clone())).await.unwrap();
        db.migrate().await.unwrap();
        let settings: Settings = crate::helpers::settings(url);
        let retention = Retention::from_settings(&settings);
        let (second, hour) = (1_000_000, 3_600_000_000_i64);
        let t0 = 1_780_000_000 * second;

        let fields = UserFields { username: "ivy".into(), is_active: true, ..Default::default() };
        let id = users::create(&db, &fields, Some("right"), t0).await.unwrap();
        users::issue_token(&db, id, t0).await.unwrap();
        let lockout = Lockout { max_failures: 4, micros: 600 * second };
        for _ in 0..2 {
            let refused = users::login(&db, "ivy", "203.0.113.9", "wrong", lockout, t0).await.unwrap();
            assert_eq!(refused, Err(LoginRefused::InvalidCredentials));
        }
        let mut tx = db.begin().await.unwrap();
        outbox::enqueue(&mut tx, "k1", "webhook", "{}", t0).await.unwrap();
        let claimed = outbox::claim(&mut tx, t0, t0 + 60 * second, 10).await.unwrap();
        outbox::delivered(&mut tx, claimed[0].id, t0).await.unwrap();
        tx.commit().await.unwrap();

        assert_eq!(prune(&db, &retention, t0 + second).await.unwrap(), Pruned::default(), "nothing is due yet");
        let due = prune(&db, &retention, t0 + hour + second).await.unwrap();
        assert_eq!(due, Pruned { tokens: 1, login_failures: 1, deliveries: 1, events: 0 });
        assert_eq!(prune(&db, &retention, t0 + 2 * hour).await.unwrap(), Pruned::default());
        // The failure count is gone, not merely lapsed: the next login starts again from one.
        let ok = users::login(&db, "ivy", "203.0.113.9", "right", lockout, t0 + 2 * hour).await.unwrap();
        assert!(ok.is_ok());
    }
);

api_test!(
    async fn unknown_usernames_take_as_long_as_known_ones(app) {
        app.user("judy").await;
        // The fastest of a few tries each, so a busy machine slows both sides alike.
        let mut known = std::time::Duration::MAX;
        let mut unknown = std::time::Duration::MAX;
        for i in 0..3 {
            let started = Instant::now();
            assert_eq!(login(&app, "judy", "wrong", None).await, (401, json!(INVALID)));
            known = known.min(started.elapsed());
            let started = Instant::now();
            assert_eq!(login(&app, &format!("ghost{i}"), "wrong", None).await, (401, json!(INVALID)));
            unknown = unknown.min(started.elapsed());
        }
        // Without a dummy check an unknown username answers tens of times faster.
        assert!(unknown * 3 > known, "unknown {unknown:?} against known {known:?}");
    }
);

/// Two instances on one PostgreSQL database: the failure count lives in the database, so the
/// lockout holds across them (SQLite databases are not shared between instances).
#[tokio::test]
async fn parallel_wrong_logins_across_two_instances_get_at_most_max_failures_checks() {
    use meterguard::clock::Clock;
    use meterguard::domain::user::UserFields;
    use meterguard::service::users;
    use meterguard::startup::Application;

    let (url, _) = crate::helpers::database_url(Backend::Postgres).await;
    let mut bases = Vec::new();
    for _ in 0..2 {
        let app = Application::build(crate::helpers::settings(url.clone()), Clock::System)
            .await
            .unwrap();
        bases.push(format!("http://127.0.0.1:{}", app.port()));
        if bases.len() == 1 {
            let fields = UserFields {
                username: "mallory".into(),
                is_active: true,
                ..Default::default()
            };
            users::create(&app.state().db, &fields, Some("right"), Clock::System.now_micros())
                .await
                .unwrap();
        }
        tokio::spawn(app.run(std::future::pending()));
    }
    let http = reqwest::Client::new();
    let mut attempts = JoinSet::new();
    for i in 0..40 {
        let req = http
            .post(format!("{}{LOGIN}", bases[i % 2]))
            .json(&json!({"username": "mallory", "password": "wrong"}));
        attempts.spawn(async move {
            let r = req.send().await.expect("login");
            r.json::<Value>().await.expect("body")["detail"].clone()
        });
    }
    let outcomes = attempts.join_all().await;
    let invalid = outcomes.iter().filter(|d| **d == json!(INVALID)).count();
    let locked = outcomes.iter().filter(|d| **d == json!(LOCKED)).count();
    assert_eq!((invalid, locked), (4, 36), "{outcomes:?}");
}
