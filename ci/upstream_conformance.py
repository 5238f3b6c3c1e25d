#!/usr/bin/env python3
"""Checks a running meterguard's answers against upstream Waldur's own OpenAPI schema (issue #14).

    python ci/upstream_conformance.py --base-url http://127.0.0.1:8000 --staff-token <token> \
        [--spec waldur-openapi-full.yaml] [--exceptions ci/upstream_schema_exceptions.txt]

1. The operations meterguard serves: those of its `/api/schema/`, and every path a `router()` in
   `src/api/` registers (read from the source, so an operation missing from `/api/schema/` is still
   checked); the methods of such a path are the `Allow` header the server answers to `TRACE`.
2. Of those, the operations upstream's schema also has (same method, same path with any parameter
   names).
3. A scenario sends each of them at least one valid request as staff: the seeding of
   `ci/schema_fuzz.py`, then lists and retrieves of the seeded objects and the remaining writes,
   with bodies shaped as upstream's request schemas say.
4. Every answer's status must be one upstream documents for the operation, and its JSON body must
   validate against upstream's response schema for that status (OpenAPI 3.0 read as JSON Schema
   draft 4, `nullable` as `null` allowed; formats `uuid`, `uri`, `date-time`, `date`, `email`,
   `decimal` checked, a uuid as upstream renders it: 32 hex digits, or hyphenated).

One line per violation: operation, JSON path in our answer (`[*]` for any list item), what upstream
expects, what we sent. A violation whose operation and path are listed, with the reason upstream's
schema is wrong, in the exceptions file is shown as allowed. The exit status is 1 when any other
violation remains (or a scenario step could not run), 0 otherwise. An exception's path names a key
of the object (`$.email`) and covers that key of each item of a list too; it never covers a key
that is missing, which is always ours to add.
"""

import argparse
import datetime
import fnmatch
import gzip
import itertools
import json
import os
import pathlib
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid as uuidlib

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import schema_fuzz  # noqa: E402  (its seeding is reused, so both checks start from the same objects)

REPO = pathlib.Path(__file__).resolve().parent.parent
METHODS = ("get", "post", "put", "patch", "delete")
UPSTREAM_URI = "urn:upstream-openapi"


# ---------------------------------------------------------------------------------------------
# The operations served


def template_key(path):
    """A path with its parameter names erased, so `{uuid}` and `{plan_uuid}` compare equal."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def balanced(text, start):
    """The text inside the bracket opened at `start` (a parenthesis or a brace), and the index
    after its close."""
    opening = text[start]
    closing = ")" if opening == "(" else "}"
    depth = 0
    for i in range(start, len(text)):
        if text[i] == opening:
            depth += 1
        elif text[i] == closing:
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
    return text[start + 1 :], len(text)


def split_top(text):
    """Splits a Rust argument list at its top-level commas."""
    parts, depth, current, in_str = [], 0, "", False
    for i, ch in enumerate(text):
        if ch == '"' and (i == 0 or text[i - 1] != "\\"):
            in_str = not in_str
        if not in_str:
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
            elif ch == "," and depth == 0:
                parts.append(current.strip())
                current = ""
                continue
        current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


PLACEHOLDER = re.compile(r"\{\{|\}\}|\{(\w*)\}")
CONST = re.compile(r"\bconst\s+(\w+)\s*:\s*&(?:'static\s+)?str\s*=\s*([^;]+);")


def source_consts(files):
    """{file: {name: value}} of every string constant, and {name: {values}} over all files (a
    trait's associated constant takes every value its impls give it)."""
    exprs = {f: [(m.group(1), m.group(2).strip()) for m in CONST.finditer(f.read_text())] for f in files}
    literal = {f: {n: e.strip('"') for n, e in pairs if e.startswith('"')} for f, pairs in exprs.items()}
    local, every = {}, {}
    for f, pairs in exprs.items():
        local[f] = dict(literal[f])
        for name, expr in pairs:
            value = expr.strip('"') if expr.startswith('"') else literal[f].get(expr.split("::")[-1])
            if value:
                local[f].setdefault(name, value)
                every.setdefault(name, set()).add(value)
    return local, every


def expand(expr, env, consts, every):
    """The values a Rust string expression of a router can take (several for `H::NAME`)."""
    expr = expr.strip().lstrip("&").strip()
    if expr.startswith('"'):
        return [bytes(expr[1:-1], "utf-8").decode("unicode_escape")]
    if expr.startswith("format!("):
        inner, _ = balanced(expr, len("format!"))
        template, *args = split_top(inner)
        template = template.strip('"')
        positional = iter(args)
        slots = [
            m.group(1) or next(positional, "")
            for m in PLACEHOLDER.finditer(template)
            if m.group(0) not in ("{{", "}}")
        ]
        out = []
        for combo in itertools.product(*(expand(s, env, consts, every) if s else [] for s in slots)):
            values = iter(combo)
            out.append(
                PLACEHOLDER.sub(
                    lambda m: m.group(0)[0] if m.group(0) in ("{{", "}}") else next(values), template
                )
            )
        return out
    call = re.fullmatch(r"(\w+)\((.*)\)", expr, re.S)
    if call and call.group(1) in env:
        param, body = env[call.group(1)]
        return [
            v
            for arg in expand(call.group(2), env, consts, every)
            for v in expand(body, {**env, param: (None, f'"{arg}"')}, consts, every)
        ]
    if expr in env:
        return expand(env[expr][1], env, consts, every)
    name = expr.split("::")[-1]
    if "::" not in expr and name in consts:
        return [consts[name]]
    return sorted(every.get(name, ()))


def source_routes(src):
    """Every path template a `router()` under `src` registers, read from the source."""
    files = sorted(src.rglob("*.rs"))
    local, every = source_consts(sorted((src.parent).rglob("*.rs")))
    routes, unresolved = set(), []
    for f in files:
        text = f.read_text()
        for fn in re.finditer(r"fn\s+router\b[^{]*\{", text):
            body, _ = balanced(text, fn.end() - 1)
            env = {}
            for m in re.finditer(r"let\s+(\w+)\s*=\s*\|(\w+)\s*:[^|]*\|\s*(format!\(.*?\));", body, re.S):
                env[m.group(1)] = (m.group(2), m.group(3))
            for m in re.finditer(r"let\s+(\w+)\s*=\s*(format!\(.*?\)|\"[^\"]*\");", body, re.S):
                env[m.group(1)] = (None, m.group(2))
            for m in re.finditer(r"\.route\(", body):
                args, _ = balanced(body, m.end() - 1)
                path_expr = split_top(args)[0]
                values = expand(path_expr, env, local.get(f, {}), every)
                if not values or any(v is None for v in values):
                    unresolved.append(f"{f.relative_to(src.parent.parent)}: {path_expr}")
                routes.update(v for v in values if v)
    return routes, unresolved


def allowed_methods(base, template):
    """The methods the server routes for a path template: the `Allow` header of a 405."""
    path = re.sub(r"\{[^}]*\}", uuidlib.UUID(int=1).hex, template)
    req = urllib.request.Request(base + path, method="TRACE")
    try:
        with urllib.request.urlopen(req) as resp:
            return set()
    except urllib.error.HTTPError as err:
        if err.code != 405:
            return set()
        allow = err.headers.get("Allow", "")
    return {m.strip().lower() for m in allow.split(",")} & set(METHODS)


def served_operations(base, src):
    """{(method, template key): our path} of every operation served, and those missing from
    /api/schema/."""
    with urllib.request.urlopen(base + "/api/schema/") as resp:
        ours = json.load(resp)
    documented = {
        (method, template_key(path)): path
        for path, item in ours.get("paths", {}).items()
        for method in item
        if method in METHODS
    }
    routes, unresolved = source_routes(src)
    served = dict(documented)
    undocumented = []
    for template in sorted(routes):
        for method in sorted(allowed_methods(base, template)):
            key = (method, template_key(template))
            if key not in served:
                served[key] = template
                undocumented.append(f"{method.upper()} {template}")
    return served, undocumented, unresolved


# ---------------------------------------------------------------------------------------------
# Upstream's schema as JSON Schema


def as_json_schema(node):
    """OpenAPI 3.0 schema objects to JSON Schema draft 4: `nullable: true` admits null."""
    if isinstance(node, list):
        return [as_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: as_json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


UUID_TEXT = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$"
)
FORMATS = jsonschema.FormatChecker(formats=())


def string_format(name):
    def register(check):
        FORMATS.checks(name, raises=ValueError)(lambda value: not isinstance(value, str) or check(value))
        return check

    return register


@string_format("uuid")
def _uuid(value):
    return bool(UUID_TEXT.match(value))


@string_format("uri")
def _uri(value):
    parts = urllib.parse.urlsplit(value)
    return bool(parts.scheme and parts.netloc)


@string_format("date-time")
def _date_time(value):
    if not DATE_TIME.match(value):
        return False
    datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return True


@string_format("date")
def _date(value):
    datetime.date.fromisoformat(value)
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value))


@string_format("email")
def _email(value):
    return bool(re.fullmatch(r"[^@\s]+@[^@\s]+", value))


@string_format("decimal")
def _decimal(value):
    return bool(re.fullmatch(r"-?\d+(?:\.\d+)?", value))


class Upstream:
    """Upstream's document, loaded once; validators for its response schemas."""

    def __init__(self, path):
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rt") as f:
            self.doc = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        self.registry = Registry().with_resource(
            UPSTREAM_URI, Resource(contents=as_json_schema(self.doc), specification=DRAFT4)
        )
        self.by_key = {}
        for path, item in self.doc["paths"].items():
            for method, op in item.items():
                if method in METHODS:
                    self.by_key[(method, template_key(path))] = (path, op)
        self.validators = {}

    def validator(self, path, method, status):
        key = (path, method, status)
        if key not in self.validators:
            pointer = "/".join(
                p.replace("~", "~0").replace("/", "~1")
                for p in ("paths", path, method, "responses", status, "content", "application/json", "schema")
            )
            self.validators[key] = jsonschema.Draft4Validator(
                {"$ref": f"{UPSTREAM_URI}#/{pointer}"},
                registry=self.registry,
                format_checker=FORMATS,
            )
        return self.validators[key]


# ---------------------------------------------------------------------------------------------
# Violations


def json_path(parts):
    return "$" + "".join("[*]" if isinstance(p, int) else f".{p}" for p in parts)


def shown(value, limit=90):
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def leaves(error):
    """The errors that say what is wrong: an `anyOf` of a schema and null (a nullable field) is
    replaced by the errors of the schema; other alternatives stay whole."""
    if not error.context:
        yield error
        return
    branches = {}
    for sub in error.context:
        branches.setdefault(sub.schema_path[0] if sub.schema_path else 0, []).append(sub)
    real = {
        b: errs
        for b, errs in branches.items()
        if not (len(errs) == 1 and errs[0].validator == "type" and errs[0].validator_value == "null")
    }
    if len(real) == 1:
        for sub in next(iter(real.values())):
            yield from leaves(sub)
    else:
        yield error


def describe(error):
    """(JSON path, what upstream expects, what we sent) of one schema error."""
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = re.match(r"'(.*)' is a required property", error.message)
        return json_path(path + [missing.group(1) if missing else "?"]), "required", "(absent)"
    if error.validator in ("anyOf", "oneOf"):
        kinds = []
        for sub in error.context:
            if sub.validator == "type":
                kinds.append(str(sub.validator_value))
        expected = f"{error.validator} of " + (", ".join(sorted(set(kinds))) or "several schemas")
        return json_path(path), expected, shown(error.instance)
    expected = f"{error.validator} {shown(error.validator_value, 60)}"
    return json_path(path), expected, shown(error.instance)


class Checker:
    def __init__(self, upstream, served):
        self.upstream = upstream
        self.served = served
        self.violations = {}  # (operation, path, expected) -> (sent, count)
        self.exercised = set()

    def operation(self, method, concrete):
        """The upstream operation a request of ours answers to, by its most literal template."""
        candidates = []
        for (m, key), _ours in self.served.items():
            if m != method or (m, key) not in self.upstream.by_key:
                continue
            pattern = "^" + re.escape(key).replace(r"\{\}", "[^/]+") + "$"
            if re.match(pattern, concrete):
                candidates.append((key.count("{}"), key))
        if not candidates:
            return None
        return self.upstream.by_key[(method, min(candidates)[1])]

    def add(self, op_id, path, expected, sent):
        key = (op_id, path, expected)
        first, count = self.violations.get(key, (sent, 0))
        self.violations[key] = (first, count + 1)

    def check(self, method, concrete, status, content_type, raw):
        found = self.operation(method, concrete)
        if found is None:
            return
        up_path, op = found
        op_id = op["operationId"]
        self.exercised.add(op_id)
        responses = op.get("responses", {})
        key = str(status) if str(status) in responses else f"{str(status)[0]}XX"
        if key not in responses:
            key = "default" if "default" in responses else None
        if key is None:
            self.add(op_id, "(status)", f"one of {', '.join(sorted(responses))}", f"{status} {raw[:80]!r}")
            return
        content = responses[key].get("content") or {}
        if not content:
            if status == 204 and raw:
                self.add(op_id, "(body)", "no body", shown(raw.decode(errors="replace")))
            return
        if "application/json" not in content:
            media = ", ".join(content)
            if not (content_type or "").startswith(tuple(content)):
                self.add(op_id, "(content-type)", media, content_type or "(none)")
            return
        if not (content_type or "").startswith("application/json"):
            self.add(op_id, "(content-type)", "application/json", content_type or "(none)")
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self.add(op_id, "$", "a JSON document", shown(raw.decode(errors="replace")))
            return
        validator = self.upstream.validator(up_path, method, key)
        for error in validator.iter_errors(body):
            for leaf in leaves(error):
                path, expected, sent = describe(leaf)
                self.add(op_id, path, expected, sent)


def item_path(path):
    """A list item's path as the object's own: `$[*].slug` -> `$.slug`."""
    return "$" + path[4:] if path.startswith("$[*]") else path


def read_exceptions(path):
    """[(operation glob, JSON path, reason)] from the exceptions file."""
    entries = []
    for n, line in enumerate(pathlib.Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3:
            sys.exit(f"{path}:{n}: expected `<operation> <json path> <reason>`")
        entries.append(tuple(parts))
    return entries


# ---------------------------------------------------------------------------------------------
# The scenario


class Recorder(schema_fuzz.Api):
    """schema_fuzz's API client that also hands every answer to the checker. Seeding stops at
    the first error as in schema_fuzz; scenario steps record errors as answers too."""

    def __init__(self, base_url, token, checker):
        super().__init__(base_url, token)
        self.checker = checker
        self.strict = True

    def call(self, method, path, body=None, token=True):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if token:
            req.add_header("Authorization", f"Token {self.token}")
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req) as resp:
                status, headers, raw = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            status, headers, raw = err.code, err.headers, err.read()
        self.checker.check(
            method.lower(), urllib.parse.urlsplit(path).path, status, headers.get("Content-Type"), raw
        )
        if status >= 400:
            if self.strict:
                sys.exit(f"seeding failed: {method} {path} answered {status} {raw!r}")
            raise StepFailed(f"{method} {path} answered {status} {raw[:300]!r}")
        return json.loads(raw) if raw else None


class StepFailed(Exception):
    pass


def scenario(api, seeded):
    """Every operation at least once with a valid request, after schema_fuzz's seeding. Objects
    a step deletes or moves on are made for it, so the seeded ones stay for the reads."""
    base = api.base
    tag = uuidlib.uuid4().hex[:8]
    ids = {prefix: values["uuid"] for prefix, values in seeded.items()}
    customer = f"{base}/api/customers/{ids['/api/customers/']}/"
    project = f"{base}/api/projects/{ids['/api/projects/']}/"
    category = f"{base}/api/marketplace-categories/{ids['/api/marketplace-categories/']}/"
    offering_uuid = ids["/api/marketplace-provider-offerings/"]
    plan_uuid = seeded["/api/marketplace-public-offerings/"]["plan_uuid"]
    resource_uuid = ids["/api/marketplace-resources/"]
    policy_uuid = ids["/api/marketplace-customer-component-usage-policies/"]
    public = f"{base}/api/marketplace-public-offerings/{offering_uuid}/"
    policies = "/api/marketplace-customer-component-usage-policies/"
    steps = []

    def step(fn):
        steps.append(fn)
        return fn

    def order(*moves):
        made = api.call(
            "POST",
            "/api/marketplace-orders/",
            {
                "project": project,
                "offering": public,
                "plan": f"{public}plans/{plan_uuid}/",
                "attributes": {"name": f"conformance {tag}"},
                "type": "Create",
            },
        )
        for move, body in moves:
            api.call("POST", f"/api/marketplace-orders/{made['uuid']}/{move}/", body)
        return made

    @step
    def users():
        user = api.call(
            "POST",
            "/api/users/",
            {"username": f"conformance-{tag}", "email": f"conformance-{tag}@example.org",
             "first_name": "Con", "last_name": "Formance"},
        )
        path = f"/api/users/{user['uuid']}/"
        api.call("GET", "/api/users/")
        api.call("GET", "/api/users/me/")
        api.call("GET", path)
        api.call("PUT", path, {"username": user["username"], "email": user["email"], "job_title": "tester"})
        api.call("PATCH", path, {"organization": "Conformance"})
        password = f"Conformance-{tag}-pass"
        api.call("POST", f"{path}change_password/", {"new_password": password})
        api.call("POST", "/api-auth/password/", {"username": user["username"], "password": password}, token=False)
        gone = api.call("POST", "/api/users/", {"username": f"gone-{tag}", "email": f"gone-{tag}@example.org"})
        api.call("DELETE", f"/api/users/{gone['uuid']}/")
        seeded["user"] = user

    @step
    def customers_and_projects():
        path = f"/api/customers/{ids['/api/customers/']}/"
        api.call("GET", "/api/customers/")
        api.call("GET", path)
        api.call("PUT", path, {"name": "Fuzzed University", "abbreviation": "FU"})
        api.call("PATCH", path, {"description": "A customer of the conformance check"})
        gone = api.call("POST", "/api/customers/", {"name": f"Gone {tag}"})
        api.call("DELETE", f"/api/customers/{gone['uuid']}/")
        path = f"/api/projects/{ids['/api/projects/']}/"
        api.call("GET", "/api/projects/")
        api.call("GET", path)
        api.call("PUT", path, {"customer": customer, "name": "Thesis"})
        api.call("PATCH", path, {"description": "A project of the conformance check"})
        gone = api.call("POST", "/api/projects/", {"customer": customer, "name": f"Gone {tag}"})
        api.call("DELETE", f"/api/projects/{gone['uuid']}/")

    @step
    def roles():
        user = seeded["user"]["uuid"]
        expires = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ"
        )
        for scope, role in (
            (f"/api/customers/{ids['/api/customers/']}/", "CUSTOMER.MANAGER"),
            (f"/api/projects/{ids['/api/projects/']}/", "PROJECT.MEMBER"),
        ):
            api.call("POST", f"{scope}add_user/", {"user": user, "role": role})
            api.call("POST", f"{scope}update_user/", {"user": user, "role": role, "expiration_time": expires})
            api.call("GET", f"{scope}list_users/")
            api.call("POST", f"{scope}delete_user/", {"user": user, "role": role})

    @step
    def catalogue():
        path = f"/api/marketplace-categories/{ids['/api/marketplace-categories/']}/"
        api.call("GET", "/api/marketplace-categories/")
        api.call("GET", path)
        api.call("PUT", path, {"title": "Compute"})
        api.call("PATCH", path, {"description": "Compute resources"})
        gone = api.call("POST", "/api/marketplace-categories/", {"title": f"Gone {tag}"})
        api.call("DELETE", f"/api/marketplace-categories/{gone['uuid']}/")
        api.call("GET", "/api/marketplace-service-providers/")
        api.call("GET", f"/api/marketplace-service-providers/{ids['/api/marketplace-service-providers/']}/")

    @step
    def offerings():
        path = f"/api/marketplace-provider-offerings/{offering_uuid}/"
        api.call("GET", "/api/marketplace-provider-offerings/")
        api.call("GET", path)
        api.call(
            "POST",
            f"{path}create_offering_component/",
            {"type": "storage", "name": "Storage", "billing_type": "limit", "measured_unit": "GB"},
        )
        component = next(c for c in api.call("GET", path)["components"] if c["type"] == "storage")
        api.call(
            "POST",
            f"{path}update_offering_component/",
            {"uuid": component["uuid"], "type": "storage", "name": "Disk", "billing_type": "limit",
             "measured_unit": "GB"},
        )
        api.call("POST", f"{path}remove_offering_component/", {"uuid": component["uuid"]})
        api.call("GET", f"/api/marketplace-plans/{plan_uuid}/")
        gone = api.call(
            "POST",
            "/api/marketplace-provider-offerings/",
            {"name": f"Gone {tag}", "type": "Marketplace.Basic", "category": category, "customer": customer},
        )
        api.call("DELETE", f"/api/marketplace-provider-offerings/{gone['uuid']}/")
        api.call("GET", "/api/marketplace-public-offerings/")
        api.call("GET", f"/api/marketplace-public-offerings/{offering_uuid}/")
        api.call("GET", f"/api/marketplace-public-offerings/{offering_uuid}/plans/")
        api.call("GET", f"/api/marketplace-public-offerings/{offering_uuid}/plans/{plan_uuid}/")

    @step
    def orders():
        api.call("GET", "/api/marketplace-orders/")
        api.call("GET", f"/api/marketplace-orders/{ids['/api/marketplace-orders/']}/")
        order(("reject_by_consumer", {}))
        order(("approve_by_consumer", {}), ("reject_by_provider", {}))
        order(("cancel", None))
        order(("approve_by_consumer", {}), ("approve_by_provider", {}),
              ("set_state_erred", {"error_message": "conformance"}))

    @step
    def resources():
        path = f"/api/marketplace-resources/{resource_uuid}/"
        api.call("GET", "/api/marketplace-resources/")
        api.call("GET", path)
        api.call("PUT", path, {"name": "allocation", "description": "conformance"})
        api.call("PATCH", path, {"description": "conformance, patched"})

    @step
    def usage_and_policies():
        path = f"{policies}{policy_uuid}/"
        component = api.call("GET", path)["component_limits_set"][0]["component"]
        api.call("GET", policies)
        api.call("GET", path)
        api.call("GET", f"{policies}actions/")
        limits = [{"component": component, "limit": 1000, "period": 2}]
        api.call("PUT", path, {"scope": customer, "actions": "notify_organization_owners",
                               "component_limits_set": limits})
        api.call("PATCH", path, {"options": {}})
        gone = api.call("POST", policies, {"scope": customer, "actions": "notify_organization_owners",
                                           "component_limits_set": []})
        api.call("DELETE", f"{policies}{gone['uuid']}/")
        for amount in ("10.5", "1500"):
            api.call("POST", "/api/marketplace-component-usages/set_usage/",
                     {"resource": resource_uuid, "usages": [{"type": "cpu_hours", "amount": amount}]})
        usages = api.call("GET", "/api/marketplace-component-usages/")
        api.call("GET", f"/api/marketplace-component-usages/{usages[0]['uuid']}/")
        api.call("GET", path)
        api.call("GET", "/api/events/")

    @step
    def resource_orders():
        resource = api.call("GET", f"/api/marketplace-resources/{resource_uuid}/")
        limits = dict(resource.get("limits") or {})
        limits["cpu_hours"] = limits.get("cpu_hours", 0) + 10
        api.call("POST", f"/api/marketplace-resources/{resource_uuid}/update_limits/", {"limits": limits})
        done = order(("approve_by_consumer", {}), ("approve_by_provider", {}), ("set_state_done", {}))
        api.call("POST", f"/api/marketplace-resources/{done['marketplace_resource_uuid']}/terminate/", {})

    @step
    def site_agent():
        # What the Waldur Site Agent calls (docs/site-agent.md), as staff.
        identities = "/api/marketplace-site-agent-identities/"
        body = {"offering": offering_uuid, "name": f"agent-{tag}", "version": "1.0.7",
                "dependencies": [{"package": "waldur-api-client", "version": "8.1.2"}],
                "last_restarted": "2026-01-05T10:00:00Z"}
        identity = api.call("POST", identities, body)
        path = f"{identities}{identity['uuid']}/"
        api.call("GET", identities)
        api.call("GET", path)
        api.call("PUT", path, {**body, "version": "1.0.8"})
        service = api.call("POST", f"{path}register_service/", {"name": "report", "mode": "report"})
        services = "/api/marketplace-site-agent-services/"
        api.call("POST", f"{services}{service['uuid']}/register_processor/",
                 {"name": "OfferingReportProcessor", "backend_type": "mock", "backend_version": "1"})
        api.call("GET", services)
        api.call("GET", f"{services}{service['uuid']}/")
        gone = api.call("POST", identities, {**body, "name": f"gone-{tag}"})
        api.call("DELETE", f"{identities}{gone['uuid']}/")
        resources = "/api/marketplace-provider-resources/"
        path = f"{resources}{resource_uuid}/"
        api.call("GET", f"{resources}?offering_uuid={offering_uuid}&state=OK")
        api.call("GET", path)
        api.call("POST", f"{path}set_backend_id/", {"backend_id": f"account-{tag}"})
        api.call("POST", f"{path}set_limits/", {"limits": {"cpu_hours": 100}})
        api.call("POST", f"{path}set_backend_metadata/", {"backend_metadata": {"qos": "normal"}})
        api.call("POST", f"{path}set_as_erred/", {"error_message": "conformance", "error_traceback": ""})
        api.call("POST", f"{path}set_as_ok/")
        api.call("POST", f"{path}refresh_last_sync/")
        api.call("GET", f"{path}team/")
        offering_users = "/api/marketplace-offering-users/"
        account = api.call("POST", offering_users, {"offering_uuid": offering_uuid,
                                                    "user_uuid": seeded["user"]["uuid"], "username": f"u-{tag}"})
        api.call("GET", offering_users)
        api.call("GET", f"{offering_users}{account['uuid']}/")
        usage = api.call("GET", f"/api/marketplace-component-usages/?resource_uuid={resource_uuid}")[0]
        api.call("POST", f"/api/marketplace-component-usages/{usage['uuid']}/set_user_usage/",
                 {"username": f"u-{tag}", "usage": "1.5", "user": f"{base}{offering_users}{account['uuid']}/"})
        user_usages = api.call("GET", "/api/marketplace-component-user-usages/")
        api.call("GET", f"/api/marketplace-component-user-usages/{user_usages[0]['uuid']}/")
        limits = "/api/component-user-usage-limits/"
        made = api.call("POST", limits, {"resource": f"{base}/api/marketplace-resources/{resource_uuid}/",
                                         "component": usage_component(), "user": f"u-{tag}", "limit": "10"})
        api.call("GET", limits)
        api.call("GET", f"{limits}{made['uuid']}/")
        api.call("DELETE", f"{limits}{made['uuid']}/")
        api.call("GET", "/api/version/")

    def usage_component():
        offering = api.call("GET", f"/api/marketplace-provider-offerings/{offering_uuid}/")
        return next(c["uuid"] for c in offering["components"] if c["type"] == "cpu_hours")

    failed = []
    for fn in steps:
        try:
            fn()
        except (StepFailed, KeyError, IndexError, StopIteration, TypeError) as err:
            failed.append(f"{fn.__name__}: {type(err).__name__}: {err}")
    return failed


# ---------------------------------------------------------------------------------------------


def default_spec():
    env = os.environ.get("UPSTREAM_OPENAPI")
    if env:
        return env
    # A verbatim copy, gzipped, so that a fresh clone checks without the shared folder beside it.
    return str(REPO / "ci" / "upstream" / "waldur-openapi-full.yaml.gz")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--staff-token", required=True)
    parser.add_argument("--spec", default=default_spec(), help="upstream's OpenAPI document (YAML)")
    parser.add_argument("--exceptions", default=str(REPO / "ci" / "upstream_schema_exceptions.txt"))
    parser.add_argument("--src", default=str(REPO / "src" / "api"))
    args = parser.parse_args()
    base = args.base_url.rstrip("/")

    started = time.monotonic()
    if not pathlib.Path(args.spec).is_file():
        sys.exit(f"upstream's OpenAPI document not found at {args.spec} (set UPSTREAM_OPENAPI)")
    upstream = Upstream(args.spec)
    served, undocumented, unresolved = served_operations(base, pathlib.Path(args.src))
    both = {key: path for key, path in served.items() if key in upstream.by_key}
    print(
        f"upstream's schema loaded in {time.monotonic() - started:.1f}s; we serve {len(served)} operations,"
        f" {len(both)} of them upstream's too"
    )
    for line in undocumented:
        print(f"note: served but not in /api/schema/: {line}")
    for line in unresolved:
        print(f"note: a route the source check could not read: {line}")

    checker = Checker(upstream, served)
    api = Recorder(base, args.staff_token, checker)
    seeded = schema_fuzz.seed(api)
    api.strict = False
    failed = scenario(api, seeded)

    exceptions = read_exceptions(args.exceptions)
    used = set()
    open_violations = 0
    for (op_id, path, expected), (sent, count) in sorted(checker.violations.items()):
        reason = None if expected == "required" else next(
            (e for e in exceptions if fnmatch.fnmatchcase(op_id, e[0]) and e[1] in (path, item_path(path))),
            None,
        )
        times = f" ({count}x)" if count > 1 else ""
        if reason:
            used.add(reason)
            print(f"allowed    {op_id} {path}: upstream expects {expected}, we sent {sent}{times}")
        else:
            open_violations += 1
            print(f"VIOLATION  {op_id} {path}: upstream expects {expected}, we sent {sent}{times}")
    for entry in exceptions:
        if entry not in used:
            print(f"note: exception not seen in this run: {entry[0]} {entry[1]}")
    names = {op["operationId"] for key, (_, op) in upstream.by_key.items() if key in both}
    for op_id in sorted(names - checker.exercised):
        print(f"note: not exercised by the scenario: {op_id}")
    for line in failed:
        print(f"SCENARIO FAILED  {line}")
    print(
        f"{len(checker.exercised)} of {len(names)} operations exercised; {open_violations} violations,"
        f" {len(checker.violations) - open_violations} allowed; {time.monotonic() - started:.1f}s"
    )
    return 1 if open_violations or failed else 0


if __name__ == "__main__":
    sys.exit(main())
