#!/usr/bin/env python3
"""Fuzzes a running meterguard through its own OpenAPI document with schemathesis.

    python ci/schema_fuzz.py --base-url http://127.0.0.1:8000 --staff-token <token> --report-dir DIR

It first seeds a small marketplace through the API (a customer that is also a service provider, a
category, an active offering with a usage component and a plan, a project, a resource made by an
order both sides approve, and a policy), so that operations with a `{uuid}` in their path reach a
real object instead of answering 404 to every generated case. Then it runs `st run` against
`/api/schema/` as staff with the given checks (default `not_a_server_error`) and a fixed seed, so a
run is repeatable; `SCHEMATHESIS_SEED` picks another. The exit status is schemathesis's.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import urllib.error
import urllib.request


class Api:
    def __init__(self, base_url, token):
        self.base = base_url.rstrip("/")
        self.token = token

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Token {self.token}")
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            sys.exit(f"seeding failed: {method} {path} answered {err.code} {err.read()!r}")
        return json.loads(raw) if raw else None


def seed(api):
    """Makes one of each object the fuzzed paths name; returns {path parameter name: value} per
    path prefix."""
    customer = api.call("POST", "/api/customers/", {"name": "Fuzzed University"})
    category = api.call("POST", "/api/marketplace-categories/", {"title": "Compute"})
    provider = api.call(
        "POST", "/api/marketplace-service-providers/", {"customer": customer["url"]}
    )
    offering = api.call(
        "POST",
        "/api/marketplace-provider-offerings/",
        {
            "name": "Cluster",
            "type": "Marketplace.Basic",
            "category": category["url"],
            "customer": customer["url"],
            "components": [
                {
                    "type": "cpu_hours",
                    "name": "CPU hours",
                    "measured_unit": "h",
                    "billing_type": "usage",
                }
            ],
            "plans": [{"name": "Default", "unit": "month"}],
        },
    )
    api.call("POST", f"/api/marketplace-provider-offerings/{offering['uuid']}/activate/")
    project = api.call(
        "POST", "/api/projects/", {"customer": customer["url"], "name": "Thesis"}
    )
    public = f"{api.base}/api/marketplace-public-offerings/{offering['uuid']}/"
    plan_uuid = offering["plans"][0]["uuid"]
    order = api.call(
        "POST",
        "/api/marketplace-orders/",
        {
            "project": project["url"],
            "offering": public,
            "plan": f"{public}plans/{plan_uuid}/",
            "attributes": {"name": "allocation"},
        },
    )
    for step in ("approve_by_consumer", "approve_by_provider", "set_state_done"):
        api.call("POST", f"/api/marketplace-orders/{order['uuid']}/{step}/")
    policy = api.call(
        "POST",
        "/api/marketplace-customer-component-usage-policies/",
        {
            "scope": customer["url"],
            "actions": "notify_organization_owners",
            "component_limits_set": [
                {"component": offering["components"][0]["uuid"], "limit": 1000, "period": 2}
            ],
        },
    )
    return {
        "/api/customers/": {"uuid": customer["uuid"]},
        "/api/projects/": {"uuid": project["uuid"]},
        "/api/marketplace-categories/": {"uuid": category["uuid"]},
        "/api/marketplace-service-providers/": {"uuid": provider["uuid"]},
        "/api/marketplace-provider-offerings/": {"uuid": offering["uuid"]},
        "/api/marketplace-public-offerings/": {
            "uuid": offering["uuid"],
            "plan_uuid": plan_uuid,
        },
        "/api/marketplace-plans/": {"uuid": plan_uuid},
        "/api/marketplace-orders/": {"uuid": order["uuid"]},
        "/api/marketplace-resources/": {"uuid": order["marketplace_resource_uuid"]},
        "/api/marketplace-customer-component-usage-policies/": {"uuid": policy["uuid"]},
    }


def config(parameters, token):
    """schemathesis.toml: staff's token on every request, and each path prefix's seeded ids."""
    lines = [f'headers = {{ Authorization = "Token {token}" }}', ""]
    for prefix, values in parameters.items():
        pairs = ", ".join(f'"path.{name}" = "{value}"' for name, value in values.items())
        lines += [
            "[[operations]]",
            f'include-path-regex = "^{prefix}"',
            f"parameters = {{ {pairs} }}",
            "",
        ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--staff-token", required=True)
    parser.add_argument("--report-dir", required=True)
    parser.add_argument("--checks", default="not_a_server_error")
    parser.add_argument("--max-examples", default="40")
    parser.add_argument(
        "st_args", nargs="*", help="more arguments for `st run`, after --, e.g. --include-path-regex"
    )
    args = parser.parse_args()

    report_dir = pathlib.Path(args.report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    parameters = seed(Api(args.base_url, args.staff_token))
    config_file = report_dir / "schemathesis.toml"
    config_file.write_text(config(parameters, args.staff_token))
    st = pathlib.Path(sys.executable).with_name("st")
    command = [
        str(st),
        "--config-file",
        str(config_file),
        "run",
        f"{args.base_url}/api/schema/",
        "--checks",
        args.checks,
        "--max-examples",
        args.max_examples,
        "--seed",
        os.environ.get("SCHEMATHESIS_SEED", "20261206"),
        "--workers",
        "2",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
        *args.st_args,
    ]
    print("+", " ".join(command).replace(args.staff_token, "<token>"), flush=True)
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
