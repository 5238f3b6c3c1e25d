//! Orders and resources: the state machine, who moves it, and what it does to resources.

use crate::api_test;
use crate::fixtures::marketplace;
use serde_json::json;

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
