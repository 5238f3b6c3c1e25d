#!/usr/bin/env python3
"""Seeds a running meterguard through its API for the load benchmark: one provider offering with a
metered component, N customers with P policies each, and an owner user on the first customer.
Every second policy has warning thresholds (50, 80 and 90%, docs/ladder.md), so that the report
path judges the ladder as well as the limit; a server that predates them ignores the field.
Prints a JSON object with what the load script needs."""

import argparse
import json
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def call(base, token, method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Token " + token)
    with urllib.request.urlopen(req) as r:
        data = r.read()
        return json.loads(data) if data else None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base-url", required=True)
    p.add_argument("--staff-token", required=True)
    p.add_argument("--customers", type=int, default=1000)
    p.add_argument("--policies-per-customer", type=int, default=10)
    a = p.parse_args()
    base, staff = a.base_url.rstrip("/"), a.staff_token

    provider = call(base, staff, "POST", "/api/customers/", {"name": "Bench Provider"})
    call(base, staff, "POST", "/api/marketplace-service-providers/", {"customer": provider["url"]})
    category = call(base, staff, "POST", "/api/marketplace-categories/", {"title": "Bench"})
    offering = call(base, staff, "POST", "/api/marketplace-provider-offerings/", {
        "name": "Bench cluster", "type": "Marketplace.Basic", "category": category["url"], "customer": provider["url"],
        "components": [{"type": "cpu_hours", "name": "CPU hours", "billing_type": "usage", "measured_unit": "hours"}],
        "plans": [{"name": "Default"}],
    })
    component = offering["components"][0]["uuid"]

    def customer(i):
        c = call(base, staff, "POST", "/api/customers/", {"name": f"Bench customer {i:05d}"})
        uuids = []
        for j in range(a.policies_per_customer):
            body = {
                "scope": c["url"], "actions": "notify_organization_owners,request_pausing",
                "component_limits_set": [{"component": component, "limit": 1000 + j, "period": 2}],
            }
            if j % 2:
                body["warning_thresholds"] = [50, 80, 90]
            policy = call(base, staff, "POST", "/api/marketplace-customer-component-usage-policies/", body)
            uuids.append(policy["uuid"])
        return c, uuids

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(customer, range(a.customers)))

    first_customer = results[0][0]
    owner = call(base, staff, "POST", "/api/users/", {"username": "bench-owner", "email": "owner@bench.example"})
    call(base, staff, "POST", f"/api/users/{owner['uuid']}/change_password/", {"new_password": "bench-pass"})
    call(base, staff, "POST", f"/api/customers/{first_customer['uuid']}/add_user/", {"user": owner["uuid"], "role": "CUSTOMER.OWNER"})
    owner_token = call(base, None, "POST", "/api-auth/password/", {"username": "bench-owner", "password": "bench-pass"})["token"]

    json.dump({
        "owner_token": owner_token,
        "customer_url": first_customer["url"],
        # The create case spread over customers takes its scopes from here.
        "customer_urls": [c["url"] for c, _ in results][:200],
        "component": component,
        "policies": [u for _, uuids in results for u in uuids][:200],
    }, sys.stdout)


if __name__ == "__main__":
    main()
