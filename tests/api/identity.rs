//! Users, tokens and logins.

use crate::api_test;
use reqwest::Method;
use serde_json::json;

api_test!(
    async fn login_issues_working_tokens_and_locks_out_after_failures(app) {
        let (_, token) = app.user("alice").await;
        assert_eq!(token.len(), 40);
        let me = app.get("/api/users/me/", &token).await.expect(200);
        assert_eq!(me["username"], "alice");
        assert_eq!(me["is_staff"], false);

        let bad = json!({"username": "alice", "password": "wrong"});
        for _ in 0..4 {
            let r = app.call(Method::POST, "/api-auth/password/", None, Some(bad.clone())).await;
            assert_eq!(r.expect(401), json!({"detail": "Invalid username/password"}));
        }
        let good = json!({"username": "alice", "password": "pass-1234"});
        let locked = app.call(Method::POST, "/api-auth/password/", None, Some(good)).await;
        assert_eq!(locked.expect(401), json!({"detail": "Username is locked out. Try in 10 minutes."}));

        let missing = app.call(Method::POST, "/api-auth/password/", None, Some(json!({"username": "bob"}))).await;
        assert_eq!(missing.expect(401), json!({"password": ["This field is required."]}));
        let unknown = json!({"username": "nobody", "password": "x"});
        app.call(Method::POST, "/api-auth/password/", None, Some(unknown)).await.expect(401);
    }
);

api_test!(
    async fn tokens_are_read_from_header_or_query(app) {
        let (_, token) = app.user("carol").await;
        let me = app.call(Method::GET, &format!("/api/users/me/?x-auth-token={token}"), None, None).await;
        assert_eq!(me.expect(200)["username"], "carol");
        let r = app.http.get(app.url("/api/users/me/")).header("Authorization", "token").send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = app.http.get(app.url("/api/users/me/")).header("Authorization", format!("Token {token} x")).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = app.http.get(app.url("/api/users/me/")).header("Authorization", format!("Bearer {token}")).send().await.unwrap();
        assert_eq!(r.status(), 401);
    }
);

api_test!(
    async fn inactive_users_are_refused(app) {
        let (uuid, token) = app.user("dave").await;
        app.patch(&format!("/api/users/{uuid}/"), app.staff(), json!({"is_active": false})).await.expect(200);
        let r = app.get("/api/users/me/", &token).await;
        assert_eq!(r.expect(401), json!({"detail": "User inactive or deleted."}));
    }
);

api_test!(
    async fn users_see_themselves_and_staff_see_everyone(app) {
        let (erin_uuid, erin) = app.user("erin").await;
        let (frank_uuid, _) = app.user("frank").await;
        let own = app.get("/api/users/", &erin).await;
        assert_eq!(own.header("x-result-count").as_deref(), Some("1"));
        assert_eq!(own.expect(200)[0]["uuid"], erin_uuid);
        app.get(&format!("/api/users/{frank_uuid}/"), &erin).await.expect(404);
        let all = app.get("/api/users/", app.staff()).await;
        assert_eq!(all.header("x-result-count").as_deref(), Some("3"));

        app.post("/api/users/", &erin, json!({"username": "x", "email": "x@y.org"})).await.expect(403);
        app.post(&format!("/api/users/{frank_uuid}/change_password/"), &erin, json!({"new_password": "n"})).await.expect(404);
        app.post(&format!("/api/users/{erin_uuid}/change_password/"), &erin, json!({"new_password": "new-pass"})).await.expect(200);
        let login = json!({"username": "erin", "password": "new-pass"});
        app.call(Method::POST, "/api-auth/password/", None, Some(login)).await.expect(200);

        // A user cannot make itself staff.
        let me = app.patch(&format!("/api/users/{erin_uuid}/"), &erin, json!({"is_staff": true, "job_title": "PI"})).await.expect(200);
        assert_eq!(me["is_staff"], false);
        assert_eq!(me["job_title"], "PI");
    }
);

api_test!(
    async fn user_creation_validates_fields(app) {
        let err = app.post("/api/users/", app.staff(), json!({})).await.expect(400);
        assert_eq!(err, json!({"username": ["This field is required."], "email": ["This field is required."]}));
        let err = app.post("/api/users/", app.staff(), json!({"username": "a b", "email": "nope"})).await.expect(400);
        assert_eq!(
            err,
            json!({"username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."],
                   "email": ["Enter a valid email address."]})
        );
        app.user("gina").await;
        let err = app.post("/api/users/", app.staff(), json!({"username": "gina", "email": "g@x.org"})).await.expect(400);
        assert_eq!(err, json!({"username": ["A user with that username already exists."]}));
        let err = app.post("/api/users/", app.staff(), json!({"username": "h", "email": "h@x.org", "is_staff": "maybe"})).await.expect(400);
        assert_eq!(err, json!({"is_staff": ["Must be a valid boolean."]}));
    }
);
