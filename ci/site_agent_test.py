#!/usr/bin/env python3
"""The real Waldur Site Agent against a running meterguard (issue #19, docs/site-agent.md).

    pip install "waldur-site-agent==1.0.7"
    python ci/site_agent_test.py --base-url http://127.0.0.1:8000 --staff-token <token>

Seeds, through meterguard's API as staff, a consumer with a project and a resource of a provider's
offering (a usage component `cpu_hours`, pausing supported), a member of the project with an
account on the offering, and a policy that pauses the consumer's resources above 100 cpu_hours a
month. Then it drives the agent's own processors, as its `report` and `membership_sync` modes do,
with the agent's MockBackend standing in for the cluster and a token of the provider's owner:

1. report: the mock reports 150 cpu_hours (all by the member) -> the policy fires, the resource is
   paused, the member's share is kept as per-user usage;
2. membership_sync: the agent reads `paused` and calls pause_resource on the mock backend, adds the
   member's account, and records its sync;
3. report again after usage falls back to 50 -> the policy resets, the resource is no longer paused;
4. membership_sync: the agent calls restore_resource.

Each check prints `PASS <name>` or `FAIL <name>: <reason>`; the exit status is 1 when one failed.
"""

import argparse
import secrets
import sys
import traceback

import httpx
from waldur_api_client.models.resource import Resource as WaldurResource

from waldur_site_agent.common import agent_identity_management, structures, utils
from waldur_site_agent.common.processors import OfferingMembershipProcessor, OfferingReportProcessor
from waldur_site_agent.testing.mock_backend import MockBackend

POLICIES = "/api/marketplace-customer-component-usage-policies/"


class Failed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failed(msg)


class Api:
    """meterguard's API as one user, raw JSON in and out."""

    def __init__(self, base_url, token):
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=60)

    def call(self, method, path, expect, body=None, params=None):
        resp = self.http.request(method, path, json=body, params=params)
        check(resp.status_code == expect, f"{method} {path}: {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content else None

    def get(self, path, params=None):
        return self.call("GET", path, 200, params=params)

    def post(self, path, body=None, expect=201):
        return self.call("POST", path, expect, body=body)


def seed(base_url, staff_token):
    """Everything the scenario needs, made through the API; returns the names it uses."""
    staff = Api(base_url, staff_token)
    sfx = secrets.token_hex(4)

    def user(role):
        username = f"agent-{role}-{sfx}"
        u = staff.post("/api/users/", {"username": username, "email": f"{username}@example.com",
                                       "first_name": role.capitalize(), "last_name": "Tester"})
        password = secrets.token_urlsafe(18)
        staff.post(f"/api/users/{u['uuid']}/change_password/", {"new_password": password}, expect=200)
        token = httpx.post(f"{base_url}/api-auth/password/", json={"username": username, "password": password})
        check(token.status_code == 200, f"token for {username}: {token.status_code} {token.text[:200]}")
        return u, token.json()["token"]

    owner, owner_token = user("owner")
    provider_owner, provider_token = user("provider")
    member, _ = user("member")
    consumer = staff.post("/api/customers/", {"name": f"Agent Consumer {sfx}"})
    provider = staff.post("/api/customers/", {"name": f"Agent Provider {sfx}"})
    staff.post(f"/api/customers/{consumer['uuid']}/add_user/", {"role": "CUSTOMER.OWNER", "user": owner["uuid"]})
    staff.post(f"/api/customers/{provider['uuid']}/add_user/",
               {"role": "CUSTOMER.OWNER", "user": provider_owner["uuid"]})
    project = staff.post("/api/projects/", {"name": f"Agent Project {sfx}", "customer": consumer["url"]})
    staff.post(f"/api/projects/{project['uuid']}/add_user/", {"role": "PROJECT.MEMBER", "user": member["uuid"]})
    staff.post("/api/marketplace-service-providers/", {"customer": provider["url"]})
    category = staff.post("/api/marketplace-categories/", {"title": f"Agent Category {sfx}"})
    offering = staff.post("/api/marketplace-provider-offerings/", {
        "name": f"Agent Offering {sfx}", "category": category["url"], "type": "Marketplace.Slurm",
        "customer": provider["url"],
        "components": [{"billing_type": "usage", "type": "cpu_hours", "name": "CPU hours", "measured_unit": "hours"}],
        "plans": [{"name": "Default", "unit": "month", "unit_price": "0"}],
        "plugin_options": {"supports_pausing": True, "supports_downscaling": True},
    })
    staff.post(f"/api/marketplace-provider-offerings/{offering['uuid']}/activate/", expect=200)
    public = staff.get(f"/api/marketplace-public-offerings/{offering['uuid']}/")

    consumer_api, provider_api = Api(base_url, owner_token), Api(base_url, provider_token)
    order = consumer_api.post("/api/marketplace-orders/", {
        "offering": public["url"], "project": project["url"], "plan": public["plans"][0]["url"],
        "attributes": {"name": f"agent-resource-{sfx}"}, "type": "Create",
    })
    consumer_api.post(f"/api/marketplace-orders/{order['uuid']}/approve_by_consumer/", expect=200)
    provider_api.post(f"/api/marketplace-orders/{order['uuid']}/approve_by_provider/", {}, expect=200)
    provider_api.post(f"/api/marketplace-orders/{order['uuid']}/set_state_done/", expect=200)
    resource = order["marketplace_resource_uuid"]

    # What the agent's order processing would have done: the account's id on the cluster, and
    # the member's account on the offering.
    backend_id = f"mock-account-{sfx}"
    provider_api.post(f"/api/marketplace-provider-resources/{resource}/set_backend_id/",
                      {"backend_id": backend_id}, expect=200)
    provider_api.post("/api/marketplace-offering-users/",
                      {"offering": offering["url"], "user": member["url"], "username": f"member-{sfx}"})

    component = next(c for c in offering["components"] if c["type"] == "cpu_hours")
    policy = staff.post(POLICIES, {
        "scope": consumer["url"], "actions": "request_pausing",
        "component_limits_set": [{"component": component["uuid"], "limit": 100, "period": 2}],
    })
    return {
        "staff": staff, "provider_api": provider_api, "provider_token": provider_token,
        "offering": offering, "resource": resource, "backend_id": backend_id, "policy": policy,
        "cluster_username": f"member-{sfx}",
    }


def run(base_url, staff_token):
    results = []

    def step(name, fn):
        try:
            fn()
            results.append(True)
            print(f"PASS {name}", flush=True)
        except Exception as exc:  # noqa: BLE001 (every failure is reported, the run goes on)
            results.append(False)
            reason = str(exc) if isinstance(exc, Failed) else traceback.format_exc()
            print(f"FAIL {name}: {reason}", flush=True)

    ctx = {}
    step("seed: consumer, provider, offering, resource, offering user, policy", lambda: ctx.update(
        seed(base_url, staff_token)))
    if not ctx:
        return False
    staff, provider_api = ctx["staff"], ctx["provider_api"]
    resource, backend_id, user = ctx["resource"], ctx["backend_id"], ctx["cluster_username"]

    # The agent's configuration of the offering, as its config file gives it.
    offering = structures.Offering(
        name=ctx["offering"]["name"],
        waldur_api_url=f"{base_url}/api/",
        waldur_api_token=ctx["provider_token"],
        waldur_offering_uuid=ctx["offering"]["uuid"],
        backend_type="mock",
    )
    client = utils.get_client_for_offering(offering, "waldur-site-agent/ci")
    backend = MockBackend(backend_settings={}, backend_components={"cpu_hours": {"measured_unit": "hours"}})
    waldur_resource = provider_api.get(f"/api/marketplace-provider-resources/{resource}/")
    backend.create_resource_with_id(WaldurResource.from_dict(waldur_resource), backend_id)

    def cluster_usage(amount):
        backend._created_resources[backend_id].usage = {
            "TOTAL_ACCOUNT_USAGE": {"cpu_hours": amount},
            user: {"cpu_hours": amount},
        }

    def registered(mode, processor_class):
        """What agent_report / agent_membership_sync do before they process the offering."""
        manager = agent_identity_management.AgentIdentityManager(offering, client)
        identity = manager.register_identity(f"agent-{offering.uuid}")
        service = manager.register_service(identity, mode, mode)
        processor = processor_class(offering, client, resource_backend=backend, resource_backend_version="ci")
        processor.register(service)
        return processor

    def policy():
        return staff.get(f"{POLICIES}{ctx['policy']['uuid']}/")

    def provider_resource():
        return provider_api.get(f"/api/marketplace-provider-resources/{resource}/")

    def operations(name):
        return [op for op in backend.get_operations_log() if op["operation"] == name]

    def report_over_limit():
        cluster_usage(150.0)
        registered("report", OfferingReportProcessor).process_offering()
        usages = staff.get("/api/marketplace-component-usages/", {"resource_uuid": resource})
        check([(u["type"], u["usage"]) for u in usages] == [("cpu_hours", "150.00")], f"usage rows: {usages}")
        p = policy()
        check(p["has_fired"] is True, f"policy not fired: {p}")
        check(provider_resource()["paused"] is True, "resource not paused by the fired policy")

    step("report: the agent reports 150 cpu_hours over the limit of 100 -> the policy fires, resource paused",
         report_over_limit)

    def per_user_usage():
        rows = staff.get("/api/marketplace-component-user-usages/", {"resource_uuid": resource})
        check([(r["username"], r["usage"], r["component_type"]) for r in rows] == [(user, "150.00", "cpu_hours")],
              f"per-user usage: {rows}")
        check(rows[0]["user"] and "/api/marketplace-offering-users/" in rows[0]["user"],
              f"per-user usage not linked to the offering user: {rows[0]}")

    step("report: the member's share is kept as per-user usage, linked to the offering user", per_user_usage)

    def identity_registered():
        identities = provider_api.get("/api/marketplace-site-agent-identities/",
                                      {"offering_uuid": ctx["offering"]["uuid"]})
        check([i["name"] for i in identities] == [f"agent-{offering.uuid}"], f"identities: {identities}")
        services = identities[0]["services"]
        check([s["name"] for s in services] == ["report"], f"services: {services}")
        listed = provider_api.get("/api/marketplace-site-agent-services/", {"identity_uuid": identities[0]["uuid"]})
        processors = listed[0]["processors"]
        check([(p["name"], p["backend_version"]) for p in processors] == [("OfferingReportProcessor", "ci")],
              f"processors: {processors}")
        check(processors[0]["last_run"], "processor without last_run")
        check("MockBackend" in processors[0]["backend_type"], f"backend_type: {processors[0]['backend_type']}")

    step("report: the agent's identity, service and processor are stored, with when it last ran",
         identity_registered)

    def membership_pauses():
        backend.clear_operations_log()
        before = provider_resource()["last_sync"]
        registered("membership_sync", OfferingMembershipProcessor).process_offering()
        check([op["backend_id"] for op in operations("pause_resource")] == [backend_id],
              f"pause_resource not called: {backend.get_operations_log()}")
        check(not operations("restore_resource"), "restore_resource called on a paused resource")
        added = operations("add_users_to_resource")
        check(any(user in op["usernames"] for op in added), f"member's account not added: {added}")
        r = provider_resource()
        check(r["state"] == "OK" and r["error_message"] == "", f"resource erred by the sync: {r}")
        check(r["last_sync"] > before, f"last_sync not refreshed: {before} -> {r['last_sync']}")
        check(r["limits"] == {"cpu": 1000, "mem": 2048}, f"limits from the cluster not recorded: {r['limits']}")
        check(r["backend_metadata"].get("backend_type") == "mock", f"backend metadata: {r['backend_metadata']}")

    step("membership_sync: the agent pauses the paused resource on the cluster (pause_resource)",
         membership_pauses)

    def report_back_under():
        # The cluster's accounting was corrected; a backend that reports decreasing usage says so.
        backend.supports_decreasing_usage = True
        cluster_usage(50.0)
        registered("report", OfferingReportProcessor).process_offering()
        p = policy()
        check(p["has_fired"] is False, f"policy did not reset: {p}")
        check(provider_resource()["paused"] is False, "resource still paused after the reset")

    step("report: usage falls back to 50 -> the policy resets, the resource is no longer paused",
         report_back_under)

    def membership_restores():
        backend.clear_operations_log()
        registered("membership_sync", OfferingMembershipProcessor).process_offering()
        check([op["backend_id"] for op in operations("restore_resource")] == [backend_id],
              f"restore_resource not called: {backend.get_operations_log()}")
        check(not operations("pause_resource"), "pause_resource called after the reset")
        identities = provider_api.get("/api/marketplace-site-agent-identities/",
                                      {"offering_uuid": ctx["offering"]["uuid"]})
        check(sorted(s["name"] for s in identities[0]["services"]) == ["membership_sync", "report"],
              f"services: {identities[0]['services']}")

    step("membership_sync: the agent restores the resource on the cluster (restore_resource)", membership_restores)

    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return passed == len(results)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--staff-token", required=True)
    args = parser.parse_args()
    sys.exit(0 if run(args.base_url.rstrip("/"), args.staff_token) else 1)


if __name__ == "__main__":
    main()
