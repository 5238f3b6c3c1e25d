//! Customers, projects and the roles on them.

use crate::api_test;
use serde_json::json;

api_test!(
    async fn customers_are_visible_through_customer_or_project_roles(app) {
        let customer = app.customer("Acme").await;
        let other = app.customer("Other").await;
        let cu = customer["uuid"].as_str().unwrap();
        assert_eq!(customer["name"], "Acme");
        assert_eq!(customer["url"], format!("{}/api/customers/{cu}/", app.address));
        let project = app.project(customer["url"].as_str().unwrap(), "P1").await;
        assert_eq!(project["customer_uuid"], customer["uuid"]);
        assert_eq!(project["customer"], customer["url"]);

        let (owner_uuid, owner) = app.user("owner").await;
        let (member_uuid, member) = app.user("member").await;
        let (_, nobody) = app.user("nobody").await;
        app.grant("customers", cu, &owner_uuid, "CUSTOMER.OWNER").await;
        app.grant("projects", project["uuid"].as_str().unwrap(), &member_uuid, "PROJECT.MEMBER").await;

        for token in [&owner, &member] {
            let list = app.get("/api/customers/", token).await.expect(200);
            assert_eq!(list.as_array().unwrap().len(), 1);
            assert_eq!(list[0]["uuid"], customer["uuid"]);
            app.get(&format!("/api/projects/{}/", project["uuid"].as_str().unwrap()), token).await.expect(200);
        }
        assert_eq!(app.get("/api/customers/", &nobody).await.expect(200), json!([]));
        app.get(&format!("/api/customers/{}/", other["uuid"].as_str().unwrap()), &owner).await.expect(404);
        assert_eq!(app.get("/api/customers/", app.staff()).await.header("x-result-count").as_deref(), Some("2"));

        app.post("/api/customers/", &owner, json!({"name": "Mine"})).await.expect(403);
        app.patch(&format!("/api/customers/{cu}/"), &owner, json!({"name": "Renamed"})).await.expect(403);
        let renamed = app.patch(&format!("/api/customers/{cu}/"), app.staff(), json!({"name": "Renamed"})).await.expect(200);
        assert_eq!(renamed["name"], "Renamed");
    }
);

api_test!(
    async fn customers_and_projects_get_slugs_from_their_names(app) {
        let acme = app.customer("Acme Corporation").await;
        assert_eq!(acme["slug"], "acme-cor-1");
        assert_eq!(app.customer("ACME cor!").await["slug"], "acme-cor-2");
        assert_eq!(app.customer("!!!").await["slug"], "-3");
        let own = json!({"name": "Own", "slug": "Own_Slug-9"});
        assert_eq!(app.post("/api/customers/", app.staff(), own).await.expect(201)["slug"], "Own_Slug-9");
        let bad = app.post("/api/customers/", app.staff(), json!({"name": "Bad", "slug": "a b"})).await.expect(400);
        assert_eq!(
            bad,
            json!({"slug": ["Enter a valid \u{201c}slug\u{201d} consisting of letters, numbers, underscores or hyphens."]})
        );

        // A rename keeps the slug; an emptied slug is made again from the name.
        let path = format!("/api/customers/{}/", acme["uuid"].as_str().unwrap());
        let renamed = app.patch(&path, app.staff(), json!({"name": "Zeta"})).await.expect(200);
        assert_eq!(renamed["slug"], "acme-cor-1");
        assert_eq!(app.patch(&path, app.staff(), json!({"slug": ""})).await.expect(200)["slug"], "zeta-1");

        let url = acme["url"].as_str().unwrap();
        let project = app.project(url, "Lab One").await;
        assert_eq!(project["slug"], "lab-one-1");
        assert_eq!(project["customer_slug"], "zeta-1");
        // Only staff choose a project's slug; an owner's is ignored.
        let (owner_uuid, owner) = app.user("owner").await;
        app.grant("customers", acme["uuid"].as_str().unwrap(), &owner_uuid, "CUSTOMER.OWNER").await;
        let body = json!({"customer": url, "name": "Lab Two", "slug": "mine"});
        assert_eq!(app.post("/api/projects/", &owner, body).await.expect(201)["slug"], "lab-two-1");
    }
);

api_test!(
    async fn owners_create_projects_others_cannot(app) {
        let customer = app.customer("Acme").await;
        let url = customer["url"].as_str().unwrap();
        let (owner_uuid, owner) = app.user("owner").await;
        let (_, nobody) = app.user("nobody").await;
        app.grant("customers", customer["uuid"].as_str().unwrap(), &owner_uuid, "CUSTOMER.OWNER").await;
        let p = app.post("/api/projects/", &owner, json!({"customer": url, "name": "Owned"})).await.expect(201);
        // A customer the caller cannot see looks missing.
        let err = app.post("/api/projects/", &nobody, json!({"customer": url, "name": "Nope"})).await.expect(400);
        assert_eq!(err, json!({"customer": ["Invalid hyperlink - Object does not exist."]}));
        let err = app.post("/api/projects/", &owner, json!({"name": ""})).await.expect(400);
        assert_eq!(err, json!({"customer": ["This field is required."], "name": ["This field may not be blank."]}));
        let path = format!("/api/projects/{}/", p["uuid"].as_str().unwrap());
        app.delete(&path, &nobody).await.expect(404);
        app.delete(&path, &owner).await.expect(204);
        app.get(&path, &owner).await.expect(404);
    }
);

api_test!(
    async fn roles_are_granted_listed_changed_and_revoked(app) {
        let customer = app.customer("Acme").await;
        let cu = customer["uuid"].as_str().unwrap();
        let (owner_uuid, owner) = app.user("owner").await;
        let (user_uuid, user) = app.user("user").await;
        app.grant("customers", cu, &owner_uuid, "CUSTOMER.OWNER").await;

        let add = format!("/api/customers/{cu}/add_user/");
        let created = app.post(&add, &owner, json!({"user": user_uuid, "role": "CUSTOMER.SUPPORT"})).await.expect(201);
        assert_eq!(created, json!({"expiration_time": null}));
        let dup = app.post(&add, &owner, json!({"user": user_uuid, "role": "CUSTOMER.SUPPORT"})).await.expect(400);
        assert_eq!(dup, json!(["User has already the same role in this scope."]));
        let err = app.post(&add, &owner, json!({"user": user_uuid, "role": "PROJECT.ADMIN"})).await.expect(400);
        assert_eq!(err, json!(["Role is not valid for this scope."]));
        let err = app.post(&add, &owner, json!({"user": "ab".repeat(16), "role": "NOPE"})).await.expect(400);
        assert_eq!(err, json!({"role": ["Role is not found."], "user": ["User is not found."]}));
        let own = app.post(&add, &owner, json!({"user": owner_uuid, "role": "CUSTOMER.MANAGER"})).await.expect(400);
        assert_eq!(own, json!({"non_field_errors": ["User can not manage own role."]}));
        app.post(&add, &user, json!({"user": user_uuid, "role": "CUSTOMER.OWNER"})).await.expect(403);

        let list = app.get(&format!("/api/customers/{cu}/list_users/"), &user).await;
        assert_eq!(list.header("x-result-count").as_deref(), Some("2"));
        let roles: Vec<String> =
            list.expect(200).as_array().unwrap().iter().map(|r| r["role_name"].as_str().unwrap().to_string()).collect();
        assert_eq!(roles, ["CUSTOMER.OWNER", "CUSTOMER.SUPPORT"]);

        let update = format!("/api/customers/{cu}/update_user/");
        let changed = app
            .post(&update, &owner, json!({"user": user_uuid, "role": "CUSTOMER.SUPPORT", "expiration_time": "2999-01-01T00:00:00"}))
            .await
            .expect(200);
        assert_eq!(changed, json!({"expiration_time": "2999-01-01T00:00:00.000000Z"}));
        let past = app
            .post(&update, &owner, json!({"user": user_uuid, "role": "CUSTOMER.SUPPORT", "expiration_time": "2001-01-01T00:00:00Z"}))
            .await
            .expect(400);
        assert_eq!(past, json!({"expiration_time": ["Expiration time should be greater than current time."]}));

        let delete = format!("/api/customers/{cu}/delete_user/");
        app.post(&delete, &owner, json!({"user": user_uuid, "role": "CUSTOMER.SUPPORT"})).await.expect(200);
        app.get(&format!("/api/customers/{cu}/"), &user).await.expect(404);
        let again = app.post(&delete, &owner, json!({"user": user_uuid, "role": "CUSTOMER.SUPPORT"})).await.expect(400);
        assert_eq!(again, json!(["User does not have this role in this scope."]));
    }
);

api_test!(
    async fn expired_roles_grant_nothing(app) {
        let customer = app.customer("Acme").await;
        let cu = customer["uuid"].as_str().unwrap();
        let (user_uuid, user) = app.user("temp").await;
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
        let add = format!("/api/customers/{cu}/add_user/");
        app.post(&add, app.staff(), json!({"user": user_uuid, "role": "CUSTOMER.OWNER", "expiration_time": soon})).await.expect(201);
        app.get(&format!("/api/customers/{cu}/"), &user).await.expect(200);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        app.get(&format!("/api/customers/{cu}/"), &user).await.expect(404);
        app.post("/api/projects/", &user, json!({"customer": customer["url"], "name": "x"})).await.expect(400);
    }
);

api_test!(
    async fn project_roles_follow_the_same_rules(app) {
        let customer = app.customer("Acme").await;
        let project = app.project(customer["url"].as_str().unwrap(), "P").await;
        let pu = project["uuid"].as_str().unwrap();
        let (manager_uuid, manager) = app.user("pm").await;
        let (member_uuid, member) = app.user("member").await;
        app.grant("projects", pu, &manager_uuid, "PROJECT.MANAGER").await;
        let add = format!("/api/projects/{pu}/add_user/");
        app.post(&add, &manager, json!({"user": member_uuid, "role": "PROJECT.MEMBER"})).await.expect(201);
        app.post(&add, &member, json!({"user": manager_uuid, "role": "PROJECT.ADMIN"})).await.expect(403);
        let err = app.post(&add, &manager, json!({"user": member_uuid, "role": "CUSTOMER.OWNER"})).await.expect(400);
        assert_eq!(err, json!(["Role is not valid for this scope."]));
        let list = app.get(&format!("/api/projects/{pu}/list_users/"), &member).await.expect(200);
        assert_eq!(list.as_array().unwrap().len(), 2);
    }
);

api_test!(
    async fn name_filters_match_substrings_or_exactly(app) {
        for name in ["Physics Lab", "Chemistry Lab", "100%_Labs", "Lab 007", "Äpfel GmbH", "back\\slash"] {
            app.customer(name).await;
        }
        let names = |query: &'static str| {
            let app = &app;
            async move {
                let rows = app.get(&format!("/api/customers/?{query}"), app.staff()).await.expect(200);
                rows.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect::<Vec<_>>()
            }
        };
        assert_eq!(names("name=lab").await, ["100%_Labs", "Chemistry Lab", "Lab 007", "Physics Lab"]);
        assert_eq!(names("name=LAB&name_exact=Physics%20Lab").await, ["Physics Lab"]);
        assert!(names("name_exact=Physics").await.is_empty());
        // LIKE's wildcards and escape are taken literally ("Lab 007" would match "0%_" as a
        // pattern, "Physics Lab" "y_L").
        assert_eq!(names("name=0%25_").await, ["100%_Labs"]);
        assert!(names("name=y_L").await.is_empty());
        assert_eq!(names("name=k%5Cs").await, ["back\\slash"]);
        // A name matches its own spelling on both backends, whatever LOWER folds.
        assert_eq!(names("name=%C3%84pfel").await, ["Äpfel GmbH"]);
        assert_eq!(names("name=gmbh").await, ["Äpfel GmbH"]);

        let customer = app.customer("Holder").await;
        for name in ["Alpha project", "Beta project"] {
            app.project(customer["url"].as_str().unwrap(), name).await;
        }
        let projects = app.get("/api/projects/?name=ALPHA", app.staff()).await.expect(200);
        let found: Vec<&str> = projects.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(found, ["Alpha project"]);

        // `customer` takes uuids separated by commas.
        let elsewhere = app.customer("Elsewhere").await;
        app.project(elsewhere["url"].as_str().unwrap(), "Gamma project").await;
        let count = |query: String| {
            let app = &app;
            async move { app.get(&format!("/api/projects/?{query}"), app.staff()).await.expect(200).as_array().unwrap().len() }
        };
        let (holder, other) = (customer["uuid"].as_str().unwrap(), elsewhere["uuid"].as_str().unwrap());
        assert_eq!(count(format!("customer={holder}")).await, 2);
        assert_eq!(count(format!("customer={holder},{other}")).await, 3);
        assert_eq!(count(format!("customer={}", "0".repeat(32))).await, 0);
        let err = app.get("/api/projects/?customer=nope", app.staff()).await.expect(400);
        assert_eq!(err, json!({"customer": ["Enter a valid UUID."]}));
    }
);
