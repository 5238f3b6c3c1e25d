//! Orders and resources: the state machine, who moves it, and what it does to resources.

use crate::api_test;
use crate::fixtures::marketplace;
use serde_json::{json, Value};

const ORDERS: &str = "/api/marketplace-orders/";

api_test!(
    async fn a_create_order_taken_to_done_leaves_a_resource_in_ok(app) {
        let m = marketplace(&app).await;
        let order = app.post(ORDERS, m.owner_token(), m.order_body("vm-1")).await.expect(201);
        assert_eq!(order["type"], "Create");
        assert_eq!(order["state"], "pending-consumer");
        assert_eq!(order["project_uuid"], m.project["uuid"]);
        assert_eq!(order["limits"], json!({"storage_gb": 10}));
        let uuid = order["uuid"].as_str().unwrap();
        let resource_uuid = order["marketplace_resource_uuid"].as_str().unwrap().to_string();
        let resource_path = format!("/api/marketplace-resources/{resource_uuid}/");
        assert_eq!(app.get(&resource_path, m.owner_token()).await.expect(200)["state"], "Creating");

        let step = |name: &str| format!("{ORDERS}{uuid}/{name}/");
        // Provider steps before the consumer approved are out of order.
        let early = app.post(&step("approve_by_provider"), m.provider_token(), json!({})).await.expect(409);
        assert_eq!(early, json!({"detail": "Valid states for operation: pending-provider."}));
        // The provider cannot approve for the consumer, nor the consumer for the provider.
        app.post(&step("approve_by_consumer"), m.provider_token(), json!({})).await.expect(403);
        let approved = app.post(&step("approve_by_consumer"), m.owner_token(), json!({})).await.expect(200);
        assert_eq!(approved, json!({"detail": "Order has been approved."}));
        app.post(&step("approve_by_provider"), m.owner_token(), json!({})).await.expect(403);
        app.post(&step("approve_by_provider"), m.provider_token(), json!({})).await.expect(200);
        let executing = app.get(&format!("{ORDERS}{uuid}/"), m.owner_token()).await.expect(200);
        assert_eq!(executing["state"], "executing");
        assert_eq!(executing["consumer_reviewed_by_username"], "owner");
        app.post(&step("set_state_done"), m.provider_token(), json!({})).await.expect(200);

        let done = app.get(&format!("{ORDERS}{uuid}/"), m.owner_token()).await.expect(200);
        assert_eq!(done["state"], "done");
        assert!(done["completed_at"].is_string());
        let resource = app.get(&resource_path, m.owner_token()).await.expect(200);
        assert_eq!(resource["state"], "OK");
        assert_eq!(resource["name"], "vm-1");
        assert_eq!(resource["customer_uuid"], m.customer_uuid());
        assert_eq!(resource["offering_plugin_options"]["supports_pausing"], true);
        assert_eq!(resource["paused"], false);
        app.post(&step("set_state_done"), m.provider_token(), json!({})).await.expect(409);
    }
);

api_test!(
    async fn orders_are_validated_and_permissioned(app) {
        let m = marketplace(&app).await;
        let (_, nobody) = app.user("nobody").await;
        let mut body = m.order_body("x");
        app.post(ORDERS, &nobody, body.clone()).await.expect(400);
        let provider_view = format!("{}/api/marketplace-provider-offerings/{}/", app.address, m.offering["uuid"].as_str().unwrap());
        body["offering"] = json!(provider_view);
        let err = app.post(ORDERS, m.owner_token(), body.clone()).await.expect(400);
        assert_eq!(err, json!({"offering": ["Invalid hyperlink - Incorrect URL match."]}));
        let mut body = m.order_body("x");
        body["plan"] = json!(format!("{}/api/marketplace-plans/{}/", app.address, m.offering["plans"][0]["uuid"].as_str().unwrap()));
        let err = app.post(ORDERS, m.owner_token(), body).await.expect(400);
        assert_eq!(err, json!({"plan": ["Invalid hyperlink - Incorrect URL match."]}));
        let err = app.post(ORDERS, m.owner_token(), json!({})).await.expect(400);
        assert_eq!(err, json!({"offering": ["This field is required."], "project": ["This field is required."]}));
        // A project member may see the project but not order in it.
        let (member_uuid, member) = app.user("member").await;
        app.grant("projects", m.project["uuid"].as_str().unwrap(), &member_uuid, "PROJECT.MEMBER").await;
        app.post(ORDERS, &member, m.order_body("x")).await.expect(403);
        assert_eq!(app.get(ORDERS, &nobody).await.expect(200), json!([]));
    }
);

api_test!(
    async fn update_and_terminate_orders_change_the_resource(app) {
        let m = marketplace(&app).await;
        let resource = m.resource(&app, "vm").await;
        let path = format!("/api/marketplace-resources/{resource}/");
        let same = app.post(&format!("{path}update_limits/"), m.owner_token(), json!({"limits": {"storage_gb": 10}})).await.expect(400);
        assert_eq!(same, json!(["Impossible to create update orders with limits set to exactly the same."]));
        let update = app.post(&format!("{path}update_limits/"), m.owner_token(), json!({"limits": {"storage_gb": 20}})).await.expect(200);
        let order = update["order_uuid"].as_str().unwrap().to_string();
        let again = app.post(&format!("{path}terminate/"), m.owner_token(), json!({})).await.expect(400);
        assert_eq!(again, json!(["Pending order for resource already exists."]));
        for (step, token) in [("approve_by_consumer", m.owner_token()), ("approve_by_provider", m.provider_token())] {
            app.post(&format!("{ORDERS}{order}/{step}/"), token, json!({})).await.expect(200);
        }
        assert_eq!(app.get(&path, m.owner_token()).await.expect(200)["state"], "Updating");
        app.post(&format!("{ORDERS}{order}/set_state_done/"), m.provider_token(), json!({})).await.expect(200);
        let updated = app.get(&path, m.owner_token()).await.expect(200);
        assert_eq!(updated["state"], "OK");
        assert_eq!(updated["limits"], json!({"storage_gb": 20}));

        let renamed = app.patch(&path, m.owner_token(), json!({"name": "renamed", "end_date": "2030-01-01"})).await.expect(200);
        assert_eq!(renamed["name"], "renamed");
        assert_eq!(renamed["end_date"], "2030-01-01");

        let terminate = app.post(&format!("{path}terminate/"), m.owner_token(), json!({})).await.expect(200);
        let order = terminate["order_uuid"].as_str().unwrap().to_string();
        app.post(&format!("{ORDERS}{order}/cancel/"), m.owner_token(), json!({})).await.expect(202);
        assert_eq!(app.get(&format!("{ORDERS}{order}/"), m.owner_token()).await.expect(200)["state"], "canceled");
        let terminate = app.post(&format!("{path}terminate/"), m.owner_token(), json!({})).await.expect(200);
        let order = terminate["order_uuid"].as_str().unwrap().to_string();
        for (step, token) in [("approve_by_consumer", m.owner_token()), ("approve_by_provider", m.provider_token())] {
            app.post(&format!("{ORDERS}{order}/{step}/"), token, json!({})).await.expect(200);
        }
        assert_eq!(app.get(&path, m.owner_token()).await.expect(200)["state"], "Terminating");
        app.post(&format!("{ORDERS}{order}/set_state_done/"), m.provider_token(), json!({})).await.expect(200);
        assert_eq!(app.get(&path, m.owner_token()).await.expect(200)["state"], "Terminated");
        app.post(&format!("{path}terminate/"), m.owner_token(), json!({})).await.expect(409);
    }
);

api_test!(
    async fn rejected_and_erred_orders(app) {
        let m = marketplace(&app).await;
        let order = app.post(ORDERS, m.owner_token(), m.order_body("r")).await.expect(201);
        let uuid = order["uuid"].as_str().unwrap();
        let resource = format!("/api/marketplace-resources/{}/", order["marketplace_resource_uuid"].as_str().unwrap());
        app.post(&format!("{ORDERS}{uuid}/reject_by_consumer/"), m.owner_token(), json!({})).await.expect(200);
        assert_eq!(app.get(&format!("{ORDERS}{uuid}/"), m.owner_token()).await.expect(200)["state"], "rejected");
        assert_eq!(app.get(&resource, m.owner_token()).await.expect(200)["state"], "Terminated");

        let order = app.post(ORDERS, m.owner_token(), m.order_body("e")).await.expect(201);
        let uuid = order["uuid"].as_str().unwrap();
        app.post(&format!("{ORDERS}{uuid}/approve_by_consumer/"), m.owner_token(), json!({})).await.expect(200);
        app.post(&format!("{ORDERS}{uuid}/approve_by_provider/"), m.provider_token(), json!({})).await.expect(200);
        let body = json!({"error_message": "backend down"});
        app.post(&format!("{ORDERS}{uuid}/set_state_erred/"), m.provider_token(), body).await.expect(200);
        let erred = app.get(&format!("{ORDERS}{uuid}/"), m.owner_token()).await.expect(200);
        assert_eq!(erred["state"], "erred");
        assert_eq!(erred["error_message"], "backend down");
        let resource = format!("/api/marketplace-resources/{}/", order["marketplace_resource_uuid"].as_str().unwrap());
        assert_eq!(app.get(&resource, m.owner_token()).await.expect(200)["state"], "Erred");
    }
);

api_test!(
    async fn orders_are_canceled_before_they_execute_only(app) {
        let m = marketplace(&app).await;
        // A pending Create order canceled never makes its resource.
        let create = app.post(ORDERS, m.owner_token(), m.order_body("never")).await.expect(201);
        let uuid = create["uuid"].as_str().unwrap();
        app.post(&format!("{ORDERS}{uuid}/cancel/"), m.provider_token(), json!({})).await.expect(403);
        let canceled = app.post(&format!("{ORDERS}{uuid}/cancel/"), m.owner_token(), json!({})).await.expect(202);
        assert_eq!(canceled, json!({"detail": "Order has been canceled."}));
        let never = format!("/api/marketplace-resources/{}/", create["marketplace_resource_uuid"].as_str().unwrap());
        assert_eq!(app.get(&never, m.owner_token()).await.expect(200)["state"], "Terminated");

        // Once executing, a change is the provider's to finish or fail: a Terminate order that a
        // policy placed must not be the consumer's to undo.
        let resource = m.resource(&app, "vm").await;
        let path = format!("/api/marketplace-resources/{resource}/");
        let terminate = app.post(&format!("{path}terminate/"), m.owner_token(), json!({})).await.expect(200);
        let order = terminate["order_uuid"].as_str().unwrap();
        for (step, token) in [("approve_by_consumer", m.owner_token()), ("approve_by_provider", m.provider_token())] {
            app.post(&format!("{ORDERS}{order}/{step}/"), token, json!({})).await.expect(200);
        }
        let late = app.post(&format!("{ORDERS}{order}/cancel/"), m.owner_token(), json!({})).await.expect(409);
        assert_eq!(late, json!({"detail": "Valid states for operation: pending-consumer, pending-provider."}));
        assert_eq!(app.get(&path, m.owner_token()).await.expect(200)["state"], "Terminating");
    }
);

api_test!(
    async fn the_provider_rejects_and_only_the_provider_sets_states(app) {
        let m = marketplace(&app).await;
        let order = app.post(ORDERS, m.owner_token(), m.order_body("p")).await.expect(201);
        let uuid = order["uuid"].as_str().unwrap();
        let step = |name: &str| format!("{ORDERS}{uuid}/{name}/");
        app.post(&step("reject_by_consumer"), m.provider_token(), json!({})).await.expect(403);
        app.post(&step("approve_by_consumer"), m.owner_token(), json!({})).await.expect(200);
        app.post(&step("reject_by_provider"), m.owner_token(), json!({})).await.expect(403);
        let rejected = app.post(&step("reject_by_provider"), m.provider_token(), json!({})).await.expect(200);
        assert_eq!(rejected, json!({"detail": "Order has been rejected."}));
        let order_now = app.get(&format!("{ORDERS}{uuid}/"), m.owner_token()).await.expect(200);
        assert_eq!(order_now["state"], "rejected");
        let resource = format!("/api/marketplace-resources/{}/", order["marketplace_resource_uuid"].as_str().unwrap());
        assert_eq!(app.get(&resource, m.owner_token()).await.expect(200)["state"], "Terminated");

        let order = app.post(ORDERS, m.owner_token(), m.order_body("q")).await.expect(201);
        let uuid = order["uuid"].as_str().unwrap();
        app.post(&format!("{ORDERS}{uuid}/approve_by_consumer/"), m.owner_token(), json!({})).await.expect(200);
        app.post(&format!("{ORDERS}{uuid}/approve_by_provider/"), m.provider_token(), json!({})).await.expect(200);
        for name in ["set_state_erred", "set_state_done"] {
            app.post(&format!("{ORDERS}{uuid}/{name}/"), m.owner_token(), json!({})).await.expect(403);
        }
        assert_eq!(app.get(&format!("{ORDERS}{uuid}/"), m.owner_token()).await.expect(200)["state"], "executing");
    }
);

api_test!(
    async fn resource_actions_need_the_states_upstream_names(app) {
        let m = marketplace(&app).await;
        let order = app.post(ORDERS, m.owner_token(), m.order_body("new")).await.expect(201);
        let creating = format!("/api/marketplace-resources/{}/", order["marketplace_resource_uuid"].as_str().unwrap());
        let err = app.post(&format!("{creating}terminate/"), m.owner_token(), json!({})).await.expect(409);
        assert_eq!(err, json!({"detail": "Valid states for operation: OK, Erred."}));
        let body = json!({"limits": {"storage_gb": 20}});
        let err = app.post(&format!("{creating}update_limits/"), m.owner_token(), body).await.expect(409);
        assert_eq!(err, json!({"detail": "Valid states for operation: OK."}));
    }
);

api_test!(
    async fn limits_are_whole_non_negative_numbers(app) {
        let m = marketplace(&app).await;
        let mut body = m.order_body("x");
        body["limits"] = json!({"storage_gb": 1.5, "cpu": -5, "ram": 1e300, "ok": 4});
        let err = app.post(ORDERS, m.owner_token(), body).await.expect(400);
        assert_eq!(
            err,
            json!({"limits": {
                "storage_gb": ["A valid integer is required."],
                "cpu": ["Ensure this value is greater than or equal to 0."],
                "ram": ["A valid integer is required."]
            }})
        );
        let mut body = m.order_body("x");
        body["attributes"]["name"] = json!("n".repeat(151));
        let err = app.post(ORDERS, m.owner_token(), body).await.expect(400);
        assert_eq!(err, json!({"attributes": {"name": ["Ensure this field has no more than 150 characters."]}}));
        assert_eq!(app.get(ORDERS, app.staff()).await.expect(200), json!([]), "nothing was ordered");

        let resource = m.resource(&app, "vm").await;
        let path = format!("/api/marketplace-resources/{resource}/update_limits/");
        // 10.0 and "10" are the limit the resource has.
        for same in [json!(10.0), json!("10")] {
            let err = app.post(&path, m.owner_token(), json!({"limits": {"storage_gb": same}})).await.expect(400);
            assert_eq!(err, json!(["Impossible to create update orders with limits set to exactly the same."]));
        }
        let err = app.post(&path, m.owner_token(), json!({"limits": {"storage_gb": "ten"}})).await.expect(400);
        assert_eq!(err, json!({"limits": {"storage_gb": ["A valid integer is required."]}}));
        let err = app.post(&path, m.owner_token(), json!({})).await.expect(400);
        assert_eq!(err, json!({"limits": ["This field is required."]}));
        let order = app.post(&path, m.owner_token(), json!({"limits": {"storage_gb": "20"}})).await.expect(200);
        let order = app.get(&format!("{ORDERS}{}/", order["order_uuid"].as_str().unwrap()), m.owner_token()).await.expect(200);
        assert_eq!(order["limits"], json!({"storage_gb": 20}));
    }
);

api_test!(
    async fn order_and_resource_lists_filter_by_any_of_several_states(app) {
        let m = marketplace(&app).await;
        let done = m.resource(&app, "done").await;
        let pending = app.post(ORDERS, m.owner_token(), m.order_body("pending")).await.expect(201);
        let other = m.resource(&app, "other").await;
        app.post(&format!("/api/marketplace-resources/{other}/terminate/"), m.owner_token(), json!({})).await.expect(200);
        let list = |query: String| {
            let app = &app;
            async move {
                let rows = app.get(&format!("{ORDERS}?{query}"), app.staff()).await.expect(200);
                let mut states: Vec<String> = rows.as_array().unwrap().iter().map(|o| o["state"].as_str().unwrap().to_string()).collect();
                states.sort();
                states
            }
        };
        // Two Create orders done, one pending, and a pending Terminate.
        assert_eq!(list("state=done&state=pending-consumer".into()).await, ["done", "done", "pending-consumer", "pending-consumer"]);
        assert_eq!(list("state=done".into()).await, ["done", "done"]);
        assert_eq!(list("type=Create&type=Terminate".into()).await.len(), 4);
        assert_eq!(list("type=Terminate&type=Create".into()).await.len(), 4);
        assert_eq!(list("type=Terminate".into()).await, ["pending-consumer"]);
        assert!(list("type=Update".into()).await.is_empty());
        let offering = m.offering["uuid"].as_str().unwrap();
        assert_eq!(list(format!("offering_uuid={offering}")).await.len(), 4);
        assert!(list(format!("offering_uuid={}", "0".repeat(32))).await.is_empty());
        let provider = m.offering["customer_uuid"].as_str().unwrap();
        assert_eq!(list(format!("provider_uuid={provider}")).await.len(), 4);
        assert!(list(format!("provider_uuid={}", m.customer_uuid())).await.is_empty());
        let err = app.get(&format!("{ORDERS}?state=finished"), app.staff()).await.expect(400);
        assert_eq!(err, json!({"state": ["Select a valid choice. finished is not one of the available choices."]}));

        let resources = "/api/marketplace-resources/";
        let rows = app.get(&format!("{resources}?state=OK&state=Creating"), app.staff()).await.expect(200);
        assert_eq!(rows.as_array().unwrap().len(), 3);
        let rows = app.get(&format!("{resources}?state=OK"), app.staff()).await.expect(200);
        let mut ok: Vec<Value> = rows.as_array().unwrap().iter().map(|r| r["uuid"].clone()).collect();
        ok.sort_by_key(|v| v.to_string());
        let mut expected = vec![json!(done), json!(other)];
        expected.sort_by_key(|v| v.to_string());
        assert_eq!(ok, expected);
        let creating = pending["marketplace_resource_uuid"].clone();
        let rows = app.get(&format!("{resources}?state=Creating"), app.staff()).await.expect(200);
        assert_eq!(rows.as_array().unwrap().iter().map(|r| r["uuid"].clone()).collect::<Vec<_>>(), [creating]);
        app.get(&format!("{resources}?state=Gone"), app.staff()).await.expect(400);
    }
);

api_test!(
    async fn resources_are_visible_to_their_consumers_only(app) {
        let m = marketplace(&app).await;
        let resource = m.resource(&app, "vm").await;
        let path = format!("/api/marketplace-resources/{resource}/");
        let (member_uuid, member) = app.user("member").await;
        app.grant("projects", m.project["uuid"].as_str().unwrap(), &member_uuid, "PROJECT.MEMBER").await;
        let (_, nobody) = app.user("nobody").await;
        let other = app.customer("Other Org").await;
        let (stranger_uuid, stranger) = app.user("stranger").await;
        app.grant("customers", other["uuid"].as_str().unwrap(), &stranger_uuid, "CUSTOMER.OWNER").await;
        for (who, token) in [("owner", m.owner_token()), ("project member", member.as_str()), ("staff", app.staff())] {
            let listed = app.get("/api/marketplace-resources/", token).await.expect(200);
            assert_eq!(listed.as_array().unwrap().len(), 1, "{who} lists the resource");
            app.get(&path, token).await.expect(200);
        }
        for (who, token) in [("no role", nobody.as_str()), ("another customer's owner", stranger.as_str())] {
            assert_eq!(app.get("/api/marketplace-resources/", token).await.expect(200), json!([]), "{who}");
            app.get(&path, token).await.expect(404);
            app.post(&format!("{path}terminate/"), token, json!({})).await.expect(404);
        }
        // Seeing is not changing: a project member may not terminate.
        app.post(&format!("{path}terminate/"), &member, json!({})).await.expect(403);
    }
);

api_test!(
    async fn customers_with_resources_are_not_deleted(app) {
        let m = marketplace(&app).await;
        m.resource(&app, "vm").await;
        let provider = m.offering["customer_uuid"].as_str().unwrap();
        for customer in [m.customer_uuid(), provider] {
            let err = app.delete(&format!("/api/customers/{customer}/"), app.staff()).await.expect(409);
            assert_eq!(err, json!({"detail": "Customer has resources and cannot be deleted."}));
            app.get(&format!("/api/customers/{customer}/"), app.staff()).await.expect(200);
        }
        let empty = app.customer("Empty Org").await;
        app.delete(&format!("/api/customers/{}/", empty["uuid"].as_str().unwrap()), app.staff()).await.expect(204);
    }
);
