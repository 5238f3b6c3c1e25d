#!/usr/bin/env python3
"""Real-client compatibility test for meterguard.

Drives a running meterguard with the official Python client `waldur-api-client` (8.1.x) and checks that
every response the client needs is accepted by the generated models and matches SPEC.md.

    pip install "waldur-api-client==8.1.3"
    meterguard create-staff-user --username ci-staff     # prints the token on its last line
    python ci/real_client_test.py --base-url http://127.0.0.1:8000 --staff-token <token>

Every check is a named step printing `PASS <name>` or `FAIL <name>: <reason>`; the last line is
`N passed, M failed` and the exit status is 1 when M > 0.

Known client defect (waldur-api-client 8.1.3): `CustomerComponentUsagePolicy.from_dict` runs
`isoparse(d.pop("fired_datetime"))`, which raises TypeError for `"fired_datetime": null` -- the value every
policy has until it first fires (SPEC §2, upstream-reference §1.1). The server must keep emitting null.
Because the generated `sync_detailed` parses before it returns, the policy calls below go through
`policy_call()`: it calls `sync_detailed` normally and, only when the parse fails on exactly this defect,
takes the raw response that the client's own httpx client received (a response event hook), parses the JSON
itself, and still validates every other field with the generated model. Each request is sent once.
"""

import argparse
import datetime
import json
import re
import secrets
import sys
import traceback
import uuid as uuidlib
from urllib.parse import parse_qs, urlparse

import httpx

from waldur_api_client import AuthenticatedClient, Client
from waldur_api_client.errors import UnexpectedStatus
from waldur_api_client.utils import parse_link_header
from waldur_api_client.models import (
    BaseProviderPlanRequest,
    BillingTypeEnum,
    BillingUnit,
    ComponentUsageCreateRequest,
    ComponentUsageItemRequest,
    CoreAuthToken,
    CustomerComponentUsagePolicy,
    CustomerComponentUsagePolicyRequest,
    CustomerRequest,
    GenericOrderAttributes,
    MarketplaceCategoryRequest,
    MergedPluginOptionsRequest,
    NestedCustomerUsagePolicyComponentRequest,
    ObtainAuthTokenRequest,
    OfferingComponentRequest,
    OfferingCreateRequest,
    OrderApproveByProviderRequest,
    OrderCreateRequest,
    OrderCreateRequestLimits,
    OrderState,
    PasswordChangeRequest,
    PatchedCustomerComponentUsagePolicyRequest,
    PolicyPeriodEnum,
    ProjectRequest,
    RequestTypes,
    ResourceState,
    ResourceTerminateRequest,
    ResourceUpdateLimitsRequest,
    ResourceUpdateLimitsRequestLimits,
    ServiceProviderRequest,
    UserRequest,
    UserRoleCreateRequest,
)
from waldur_api_client.api.api_auth import api_auth_password
from waldur_api_client.api.users import users_change_password, users_create, users_me_retrieve
from waldur_api_client.api.customers import (
    customers_add_user,
    customers_create,
    customers_list_users_list,
    customers_retrieve,
)
from waldur_api_client.api.projects import projects_create
from waldur_api_client.api.marketplace_service_providers import marketplace_service_providers_create
from waldur_api_client.api.marketplace_categories import marketplace_categories_create
from waldur_api_client.api.marketplace_provider_offerings import (
    marketplace_provider_offerings_activate,
    marketplace_provider_offerings_create,
    marketplace_provider_offerings_retrieve,
)
from waldur_api_client.api.marketplace_public_offerings import marketplace_public_offerings_retrieve
from waldur_api_client.api.marketplace_orders import (
    marketplace_orders_approve_by_consumer as order_approve_consumer,
    marketplace_orders_approve_by_provider as order_approve_provider,
    marketplace_orders_create as order_create,
    marketplace_orders_retrieve as order_retrieve,
    marketplace_orders_set_state_done as order_set_done,
)
from waldur_api_client.api.marketplace_resources import (
    marketplace_resources_retrieve as resource_retrieve,
    marketplace_resources_terminate as resource_terminate,
    marketplace_resources_update_limits as resource_update_limits,
)
from waldur_api_client.api.marketplace_component_usages import (
    marketplace_component_usages_list as usage_list,
    marketplace_component_usages_set_usage as set_usage,
)
from waldur_api_client.api.events import events_list
from waldur_api_client.api.marketplace_customer_component_usage_policies import (
    marketplace_customer_component_usage_policies_actions_retrieve as pol_actions,
    marketplace_customer_component_usage_policies_count as pol_count,
    marketplace_customer_component_usage_policies_create as pol_create,
    marketplace_customer_component_usage_policies_destroy as pol_destroy,
    marketplace_customer_component_usage_policies_list as pol_list,
    marketplace_customer_component_usage_policies_partial_update as pol_patch,
    marketplace_customer_component_usage_policies_retrieve as pol_retrieve,
    marketplace_customer_component_usage_policies_update as pol_update,
)

# ---------------------------------------------------------------------------------------------------------------
# Constants from SPEC.md / upstream-reference.md

ALL_ACTIONS = sorted(
    [
        "notify_organization_owners",
        "notify_external_user",
        "block_creation_of_new_resources",
        "block_modification_of_existing_resources",
        "terminate_resources",
        "request_downscaling",
        "restrict_members",
        "request_pausing",
    ]
)
PERIOD_NAMES = {1: "Total", 2: "1 month", 3: "3 month", 4: "12 month"}
POLICY_KEYS = [  # upstream-reference §3.1, in order
    "uuid", "url", "scope", "scope_name", "scope_uuid", "actions", "created", "created_by_full_name",
    "created_by_username", "has_fired", "fired_datetime", "options", "affected_resources_count",
    "component_limits_set",
]
# meterguard's enforcement ladder adds three fields after upstream's, in every policy (docs/ladder.md §1);
# the client keeps them as additional properties.
LADDER_KEYS = ["warning_thresholds", "reset_below_percent", "warning_level"]
LIMIT_ITEM_KEYS = {"type", "limit", "period", "period_name", "component"}
POLICIES_PATH = "/api/marketplace-customer-component-usage-policies/"
NO_PERMISSION = {"detail": "You do not have permission to perform this action."}
DUPLICATE_MSG = ["Duplicate component limits for the same component and period."]
HEX32 = re.compile(r"^[0-9a-f]{32}$")
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
PAGING_POLICIES = 25
PAGE_SIZE = 10


# ---------------------------------------------------------------------------------------------------------------
# Small helpers: step runner, assertions, connections


class StepFailed(Exception):
    pass


class MissingPrerequisite(Exception):
    pass


class Runner:
    """Runs named steps; a step passes when it returns without raising."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def step(self, name, fn, *args, **kwargs):
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure is reported, never fatal
            self.failed += 1
            print(f"FAIL {name}: {describe(exc)}", flush=True)
            return None
        self.passed += 1
        print(f"PASS {name}", flush=True)
        return result


def describe(exc):
    if isinstance(exc, UnexpectedStatus):
        body = exc.content.decode(errors="replace")[:300]
        return f"unexpected HTTP {exc.status_code} from {exc.url}: {body}"
    if isinstance(exc, (StepFailed, AssertionError, MissingPrerequisite)):
        return str(exc)
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
    models = [f for f in tb if "/waldur_api_client/models/" in f.filename.replace("\\", "/")]
    if models:  # the generated client could not parse the server's response
        m = models[-1]
        return (f"response not parseable by waldur-api-client: {type(exc).__name__}: {exc} "
                f"in {m.filename.rsplit('/', 1)[-1]}:{m.lineno} `{(m.line or '').strip()}`")
    return f"{type(exc).__name__}: {exc}{where}"


def is_fired_datetime_defect(exc):
    """True when exc is the known TypeError from `isoparse(d.pop("fired_datetime"))` on null."""
    if not isinstance(exc, TypeError):
        return False
    frames = traceback.extract_tb(exc.__traceback__)
    return any(f.filename.endswith("customer_component_usage_policy.py") and "fired_datetime" in (f.line or "")
               for f in frames)


def need(ctx, *keys):
    missing = [k for k in keys if ctx.get(k) is None]
    if missing:
        raise MissingPrerequisite(f"prerequisite missing (an earlier step failed): {', '.join(missing)}")
    return [ctx[k] for k in keys]


def check(cond, msg):
    if not cond:
        raise StepFailed(msg)


def eq(actual, expected, what):
    if actual != expected:
        raise StepFailed(f"{what}: expected {expected!r}, got {actual!r}")


def path_of(url):
    check(isinstance(url, str) and url.startswith(("http://", "https://")), f"not an absolute URL: {url!r}")
    return urlparse(url).path


class Conn:
    """An AuthenticatedClient plus the last raw httpx response it received (for the fired_datetime defect)."""

    def __init__(self, base_url, token, name, timeout):
        self.name = name
        self.last_response = None

        def remember(response):
            self.last_response = response

        self.client = AuthenticatedClient(
            base_url=base_url,
            token=token,
            timeout=httpx.Timeout(timeout),
            httpx_args={"event_hooks": {"response": [remember]}},
        )


def expect_error(status, fn, *args, **kwargs):
    """Call a generated sync_detailed that must fail with `status`; return the decoded JSON error body."""
    try:
        resp = fn(*args, **kwargs)
    except UnexpectedStatus as exc:
        eq(exc.status_code, status, "HTTP status")
        text = exc.content.decode(errors="replace")
        return json.loads(text) if text.strip() else None
    raise StepFailed(f"expected HTTP {status}, got {int(resp.status_code)}")


# ---------------------------------------------------------------------------------------------------------------
# Policy calls around the known client defect


def parse_policy(obj):
    """Validate one policy JSON object with the generated model.

    The only tolerated failure is the known defect: fired_datetime null. In that case the object is validated again
    with a placeholder datetime, so every other field is still checked by the client's own parser.
    """
    if obj.get("fired_datetime", "missing") is None:
        try:
            CustomerComponentUsagePolicy.from_dict(obj)
        except TypeError as exc:
            if not is_fired_datetime_defect(exc):
                raise
            # the known defect; validate everything else below
        else:
            return obj  # a fixed client accepts null: fine
        CustomerComponentUsagePolicy.from_dict({**obj, "fired_datetime": "2000-01-01T00:00:00.000000Z"})
    else:
        CustomerComponentUsagePolicy.from_dict(obj)
    return obj


def policy_call(conn, module, *args, expect=200, validate=True, **kwargs):
    """Call a policy endpoint through module.sync_detailed; return (json body, headers).

    The generated parser runs inside sync_detailed. If it fails (the known fired_datetime:null TypeError, or any
    other incompatibility), the raw response the client received is used instead; then every returned policy is
    validated with parse_policy(), which tolerates only the known defect. With validate=False the caller runs
    parse_policy() itself (to keep the decoded body even when the model rejects it).
    """
    conn.last_response = None
    try:
        resp = module.sync_detailed(*args, client=conn.client, **kwargs)
        status, content, headers = int(resp.status_code), resp.content, resp.headers
    except (TypeError, KeyError, ValueError, AttributeError):
        raw = conn.last_response
        if raw is None:
            raise
        status, content, headers = raw.status_code, raw.content, raw.headers
    eq(status, expect, "HTTP status")
    body = json.loads(content) if content.strip() else None
    if validate:
        validate_policies(body)
    return body, headers


def validate_policies(body):
    for item in body if isinstance(body, list) else [body]:
        check(isinstance(item, dict), f"not a policy object: {item!r}")
        parse_policy(item)


def limits_set(policy):
    """component_limits_set as a sorted list of (component hex, limit, period, period_name, type)."""
    return sorted(
        (i["component"], i["limit"], i["period"], i["period_name"], i["type"]) for i in policy["component_limits_set"]
    )


def check_policy_shape(p, ctx, scope_customer):
    eq(list(p.keys()), POLICY_KEYS + LADDER_KEYS, "policy keys and their order")
    check(HEX32.match(p["uuid"]), f"uuid is not 32 lowercase hex: {p['uuid']!r}")
    eq(path_of(p["url"]), f"{POLICIES_PATH}{p['uuid']}/", "url path")
    eq(path_of(p["scope"]), path_of(scope_customer["url"]), "scope path")
    eq(p["scope_uuid"], scope_customer["uuid"], "scope_uuid")
    eq(p["scope_name"], scope_customer["name"], "scope_name")
    check(DATETIME_RE.match(p["created"]), f"created not RFC 3339 UTC with microseconds and Z: {p['created']!r}")
    eq(p["created_by_username"], ctx["staff_username"], "created_by_username")
    check(isinstance(p["created_by_full_name"], str), "created_by_full_name is not a string")
    check(isinstance(p["has_fired"], bool), "has_fired is not a bool")
    check(isinstance(p["affected_resources_count"], int), "affected_resources_count is not an int")
    check(isinstance(p["options"], dict), "options is not an object")
    for item in p["component_limits_set"]:
        eq(set(item.keys()), LIMIT_ITEM_KEYS, "component_limits_set item keys")
        check(HEX32.match(item["component"]), f"component is not 32 hex: {item['component']!r}")
        check(type(item["period"]) is int, f"period is not an int: {item['period']!r}")
        eq(item["period_name"], PERIOD_NAMES.get(item["period"]), "period_name")


def limit(component, value, period=None):
    """A limit item as the client sends it (component UUID is serialised hyphenated by the client)."""
    if period is None:
        return NestedCustomerUsagePolicyComponentRequest(limit=value, component=uuidlib.UUID(component))
    return NestedCustomerUsagePolicyComponentRequest(
        limit=value, component=uuidlib.UUID(component), period=PolicyPeriodEnum(period)
    )


# ---------------------------------------------------------------------------------------------------------------
# Scenario 1: users, organisations, offering (the fixture every later scenario needs)


def scenario_setup(r, ctx):
    staff, base_url, sfx = ctx["staff"], ctx["base_url"], ctx["suffix"]

    def staff_me():
        me = users_me_retrieve.sync(client=staff.client)
        eq(me.is_staff, True, "is_staff of the staff token's user")
        check(isinstance(me.username, str) and me.username, "me.username missing")
        ctx["staff_username"] = me.username

    r.step("setup: GET users/me/ as staff", staff_me)

    def make_user(role):
        def run():
            username = f"mg-{role}-{sfx}"
            user = users_create.sync(
                client=staff.client,
                body=UserRequest(
                    username=username,
                    email=f"{username}@example.com",
                    first_name=role.capitalize(),
                    last_name="Tester",
                ),
            )
            check(HEX32.match(user.uuid.hex), "user uuid")
            eq(user.username, username, "username")
            password = secrets.token_urlsafe(18)
            users_change_password.sync_detailed(
                user.uuid, client=staff.client, body=PasswordChangeRequest(new_password=password)
            )
            token = api_auth_password.sync(
                client=Client(base_url=base_url, timeout=httpx.Timeout(ctx["timeout"])),
                body=ObtainAuthTokenRequest(username=username, password=password),
            )
            check(isinstance(token, CoreAuthToken), f"api-auth/password/ did not return a token: {token!r}")
            conn = Conn(base_url, token.token, role, ctx["timeout"])
            me = users_me_retrieve.sync(client=conn.client)
            eq(me.username, username, "users/me/ with the new token")
            eq(me.is_staff, False, "is_staff of a new user")
            ctx[f"{role}_user"] = {"uuid": user.uuid.hex, "username": username, "password": password}
            ctx[role] = conn

        return run

    r.step("setup: create owner user, set password, obtain token", make_user("owner"))
    r.step("setup: create plain user, set password, obtain token", make_user("plain"))
    r.step("setup: create provider owner user, set password, obtain token", make_user("provider_owner"))

    def wrong_password():
        user, = need(ctx, "plain_user")
        challenge = api_auth_password.sync(
            client=Client(base_url=base_url, timeout=httpx.Timeout(ctx["timeout"])),
            body=ObtainAuthTokenRequest(username=user["username"], password="definitely-wrong"),
        )
        check(not isinstance(challenge, CoreAuthToken), "a wrong password produced a token")
        eq(challenge.detail, "Invalid username/password", "401 detail")

    r.step("setup: api-auth/password/ with a wrong password -> 401", wrong_password)

    def make_customer(key, name):
        def run():
            c = customers_create.sync(client=staff.client, body=CustomerRequest(name=name))
            eq(c.name, name, "customer name")
            check(isinstance(c.url, str), "customer url missing")
            ctx[key] = {"uuid": c.uuid.hex, "url": c.url, "name": c.name}

        return run

    r.step("setup: create consumer customer", make_customer("consumer", f"MG Consumer {sfx}"))
    r.step("setup: create provider customer", make_customer("provider", f"MG Provider {sfx}"))
    r.step("setup: create paging customer", make_customer("paging", f"MG Paging {sfx}"))

    def make_project():
        consumer, = need(ctx, "consumer")
        p = projects_create.sync(
            client=staff.client, body=ProjectRequest(name=f"MG Project {sfx}", customer=consumer["url"])
        )
        eq(path_of(p.customer), path_of(consumer["url"]), "project.customer")
        ctx["project"] = {"uuid": p.uuid.hex, "url": p.url}

    r.step("setup: create project in consumer customer", make_project)

    def add_owner():
        consumer, owner = need(ctx, "consumer", "owner_user")
        resp = customers_add_user.sync_detailed(
            uuidlib.UUID(consumer["uuid"]),
            client=staff.client,
            body=UserRoleCreateRequest(role="CUSTOMER.OWNER", user=uuidlib.UUID(owner["uuid"])),
        )
        eq(int(resp.status_code), 201, "add_user status")
        check(resp.parsed is not None and hasattr(resp.parsed, "expiration_time"), "add_user body not parsed")
        roles = customers_list_users_list.sync(uuidlib.UUID(consumer["uuid"]), client=staff.client)
        mine = [x for x in roles if x.user_uuid and x.user_uuid.hex == owner["uuid"]]
        eq([x.role_name for x in mine], ["CUSTOMER.OWNER"], "owner's roles in list_users/")
        # the owner now sees the customer
        c = customers_retrieve.sync(uuidlib.UUID(consumer["uuid"]), client=ctx["owner"].client)
        eq(c.uuid.hex, consumer["uuid"], "customer visible to its owner")

    r.step("setup: add owner as CUSTOMER.OWNER of consumer (add_user, list_users)", add_owner)

    def add_provider_owner():
        provider, powner = need(ctx, "provider", "provider_owner_user")
        resp = customers_add_user.sync_detailed(
            uuidlib.UUID(provider["uuid"]),
            client=staff.client,
            body=UserRoleCreateRequest(role="CUSTOMER.OWNER", user=uuidlib.UUID(powner["uuid"])),
        )
        eq(int(resp.status_code), 201, "add_user status")
        roles = customers_list_users_list.sync(uuidlib.UUID(provider["uuid"]), client=staff.client)
        mine = [x for x in roles if x.user_uuid and x.user_uuid.hex == powner["uuid"]]
        eq([x.role_name for x in mine], ["CUSTOMER.OWNER"], "provider owner's roles in list_users/")

    r.step("setup: add provider owner as CUSTOMER.OWNER of provider (approves orders, reports usage)",
           add_provider_owner)

    def register_provider():
        provider, = need(ctx, "provider")
        sp = marketplace_service_providers_create.sync(
            client=staff.client, body=ServiceProviderRequest(customer=provider["url"])
        )
        eq(path_of(sp.customer), path_of(provider["url"]), "service provider customer")

    r.step("setup: register provider customer as service provider", register_provider)

    def make_category():
        cat = marketplace_categories_create.sync(
            client=staff.client, body=MarketplaceCategoryRequest(title=f"MG Category {sfx}")
        )
        check(isinstance(cat.url, str), "category url missing")
        ctx["category"] = {"uuid": cat.uuid.hex, "url": cat.url}

    r.step("setup: create category", make_category)

    def make_offering():
        provider, category = need(ctx, "provider", "category")
        body = OfferingCreateRequest(
            name=f"MG Offering {sfx}",
            category=category["url"],
            type_="Marketplace.Basic",
            customer=provider["url"],
            components=[
                OfferingComponentRequest(
                    billing_type=BillingTypeEnum.USAGE, type_="cpu_hours", name="CPU hours", measured_unit="hours"
                ),
                OfferingComponentRequest(
                    billing_type=BillingTypeEnum.LIMIT, type_="storage_gb", name="Storage", measured_unit="GB"
                ),
                OfferingComponentRequest(
                    billing_type=BillingTypeEnum.FIXED, type_="base", name="Base fee", measured_unit="month"
                ),
            ],
            plans=[BaseProviderPlanRequest(name="Default", unit=BillingUnit.MONTH, unit_price="0")],
            plugin_options=MergedPluginOptionsRequest(
                supports_pausing=True, supports_downscaling=True, service_provider_can_create_offering_user=True
            ),
        )
        created = marketplace_provider_offerings_create.sync(client=staff.client, body=body)
        off = marketplace_provider_offerings_retrieve.sync(created.uuid, client=staff.client)
        by_type = {c.type_: c for c in off.components}
        eq(sorted(by_type), ["base", "cpu_hours", "storage_gb"], "offering component types")
        eq(by_type["cpu_hours"].billing_type, BillingTypeEnum.USAGE, "cpu_hours billing_type")
        eq(by_type["storage_gb"].billing_type, BillingTypeEnum.LIMIT, "storage_gb billing_type")
        eq(by_type["base"].billing_type, BillingTypeEnum.FIXED, "base billing_type")
        check(len(off.plans) == 1 and isinstance(off.plans[0].url, str), "offering plan with url")
        check("/api/marketplace-plans/" in off.plans[0].url, f"provider plan url: {off.plans[0].url}")
        ctx["offering"] = {
            "uuid": off.uuid.hex,
            "url": off.url,
            "plan_uuid": off.plans[0].uuid.hex,
            "usage_component": by_type["cpu_hours"].uuid.hex,
            "limit_component": by_type["storage_gb"].uuid.hex,
            "fixed_component": by_type["base"].uuid.hex,
        }

    r.step("setup: create offering with usage/limit/fixed components and a plan", make_offering)

    def activate():
        off, = need(ctx, "offering")
        res = marketplace_provider_offerings_activate.sync(uuidlib.UUID(off["uuid"]), client=staff.client)
        check(isinstance(res.state, str), "activate/ state")
        again = marketplace_provider_offerings_retrieve.sync(uuidlib.UUID(off["uuid"]), client=staff.client)
        eq(again.state.value, "Active", "offering state after activate/")

    r.step("setup: activate offering", activate)

    def public_view():
        off, = need(ctx, "offering")
        pub = marketplace_public_offerings_retrieve.sync(uuidlib.UUID(off["uuid"]), client=ctx["owner"].client)
        eq(path_of(pub.url), f"/api/marketplace-public-offerings/{off['uuid']}/", "public offering url")
        eq(len(pub.plans), 1, "public plans")
        eq(path_of(pub.plans[0].url), f"/api/marketplace-public-offerings/{off['uuid']}/plans/{off['plan_uuid']}/",
           "public plan url")
        off["public_url"], off["public_plan_url"] = pub.url, pub.plans[0].url

    r.step("setup: public offering view (url and nested plan url)", public_view)


# ---------------------------------------------------------------------------------------------------------------
# Scenario 2: policy create / retrieve / PUT / PATCH


def scenario_policy_crud(r, ctx):
    staff = ctx["staff"]

    def create():
        consumer, off = need(ctx, "consumer", "offering")
        body = CustomerComponentUsagePolicyRequest(
            scope=consumer["url"],
            actions="notify_organization_owners,request_pausing",
            component_limits_set=[limit(off["usage_component"], 1000, 2), limit(off["limit_component"], 500, 1)],
        )
        p, _ = policy_call(staff, pol_create, body=body, expect=201, validate=False)
        ctx["policy"] = p  # stored before the checks, so one bad field does not cascade into every later step
        ctx["consumer_policies"] = {p["uuid"]}
        validate_policies(p)
        check_policy_shape(p, ctx, consumer)
        eq(p["actions"], "notify_organization_owners,request_pausing", "actions")
        eq(p["has_fired"], False, "has_fired")
        eq(p["fired_datetime"], None, "fired_datetime before any fire")
        eq(p["affected_resources_count"], 0, "affected_resources_count")
        eq(p["options"], {}, "options default")
        eq(limits_set(p), sorted([
            (off["usage_component"], 1000, 2, "1 month", "cpu_hours"),
            (off["limit_component"], 500, 1, "Total", "storage_gb"),
        ]), "component_limits_set")

    r.step("policy: create as staff -> 201 with full representation", create)

    def client_defect_reproduced():
        p, = need(ctx, "policy")
        eq(p["fired_datetime"], None, "fired_datetime of a policy that never fired")
        try:
            parsed = pol_retrieve.sync(uuidlib.UUID(p["uuid"]), client=staff.client)
        except TypeError as exc:
            if is_fired_datetime_defect(exc):
                return  # waldur-api-client 8.1.3 cannot parse fired_datetime: null; the server is right to send it
            raise
        eq(parsed.fired_datetime, None, "fired_datetime parsed by a fixed client")

    r.step("policy: known client defect (fired_datetime null -> TypeError in from_dict) reproduced", client_defect_reproduced)

    def retrieve():
        p, consumer = need(ctx, "policy", "consumer")
        hyphen, _ = policy_call(staff, pol_retrieve, uuidlib.UUID(p["uuid"]))  # client sends hyphenated
        eq(hyphen, p, "retrieve (hyphenated uuid in path) equals create response")
        plain, _ = policy_call(staff, pol_retrieve, p["uuid"])  # 32-hex in path
        eq(plain, p, "retrieve (hex uuid in path) equals create response")
        check_policy_shape(plain, ctx, consumer)

    r.step("policy: retrieve by hyphenated and hex uuid", retrieve)

    def put():
        p, consumer, off = need(ctx, "policy", "consumer", "offering")
        body = CustomerComponentUsagePolicyRequest(
            scope=consumer["url"],
            actions="notify_organization_owners,request_pausing,block_creation_of_new_resources",
            component_limits_set=[limit(off["usage_component"], 2000, 3)],
        )
        new, _ = policy_call(staff, pol_update, uuidlib.UUID(p["uuid"]), body=body)
        ctx["policy"] = new
        check_policy_shape(new, ctx, consumer)
        eq(new["uuid"], p["uuid"], "uuid after PUT")
        eq(new["created"], p["created"], "created after PUT")
        eq(new["actions"], "notify_organization_owners,request_pausing,block_creation_of_new_resources", "actions")
        eq(limits_set(new), [(off["usage_component"], 2000, 3, "3 month", "cpu_hours")], "limits replaced by PUT")

    r.step("policy: PUT replaces actions and limits -> 200", put)

    def patch_actions_only():
        p, consumer = need(ctx, "policy", "consumer")
        new, _ = policy_call(
            staff, pol_patch, uuidlib.UUID(p["uuid"]),
            body=PatchedCustomerComponentUsagePolicyRequest(actions="notify_organization_owners"),
        )
        ctx["policy"] = new
        check_policy_shape(new, ctx, consumer)
        eq(new["actions"], "notify_organization_owners", "actions after PATCH")
        eq(limits_set(new), limits_set(p), "limits untouched when component_limits_set is omitted")

    r.step("policy: PATCH actions only keeps limits -> 200", patch_actions_only)

    def patch_limits():
        p, consumer, off = need(ctx, "policy", "consumer", "offering")
        body = PatchedCustomerComponentUsagePolicyRequest(
            component_limits_set=[limit(off["usage_component"], 10), limit(off["limit_component"], 5, 4)],
        )
        new, _ = policy_call(staff, pol_patch, uuidlib.UUID(p["uuid"]), body=body)
        ctx["policy"] = new
        check_policy_shape(new, ctx, consumer)
        eq(limits_set(new), sorted([
            (off["usage_component"], 10, 2, "1 month", "cpu_hours"),  # period omitted -> default 2 (SPEC §2)
            (off["limit_component"], 5, 4, "12 month", "storage_gb"),
        ]), "limits after PATCH")
        eq(new["has_fired"], False, "has_fired without any usage")

    r.step("policy: PATCH limits (one without period -> 2) replaces the set -> 200", patch_limits)


# ---------------------------------------------------------------------------------------------------------------
# Scenario 3: validation errors (staff)


def scenario_policy_validation(r, ctx):
    staff = ctx["staff"]

    def consumer_policy_count():
        consumer, = need(ctx, "consumer")
        return pol_count.sync(client=staff.client, customer_uuid=uuidlib.UUID(consumer["uuid"]))

    def duplicate_on_create():
        consumer, off = need(ctx, "consumer", "offering")
        before = consumer_policy_count()
        body = CustomerComponentUsagePolicyRequest(
            scope=consumer["url"], actions="notify_organization_owners",
            component_limits_set=[limit(off["usage_component"], 1, 2), limit(off["usage_component"], 7, 2)],
        )
        err = expect_error(400, pol_create.sync_detailed, client=staff.client, body=body)
        eq(err, DUPLICATE_MSG, "400 body")
        eq(consumer_policy_count(), before, "policy count after rejected create (rollback)")

    r.step("validation: duplicate (component, period) on create -> 400, nothing created", duplicate_on_create)

    def duplicate_on_patch():
        p, off = need(ctx, "policy", "offering")
        body = PatchedCustomerComponentUsagePolicyRequest(
            component_limits_set=[limit(off["limit_component"], 1, 1), limit(off["limit_component"], 2, 1)],
        )
        err = expect_error(400, pol_patch.sync_detailed, uuidlib.UUID(p["uuid"]), client=staff.client, body=body)
        eq(err, DUPLICATE_MSG, "400 body")
        now, _ = policy_call(staff, pol_retrieve, p["uuid"])
        eq(limits_set(now), limits_set(p), "limits after rejected PATCH (rollback)")

    r.step("validation: duplicate (component, period) on PATCH -> 400, limits kept", duplicate_on_patch)

    fixed_msg = [
        "Component base has billing type fixed which is not supported for usage policies. "
        "Only USAGE and LIMIT billing types are supported."
    ]

    def fixed_on_create():
        consumer, off = need(ctx, "consumer", "offering")
        before = consumer_policy_count()
        body = CustomerComponentUsagePolicyRequest(
            scope=consumer["url"], actions="notify_organization_owners",
            component_limits_set=[limit(off["fixed_component"], 10, 1)],
        )
        err = expect_error(400, pol_create.sync_detailed, client=staff.client, body=body)
        eq(err, fixed_msg, "400 body")
        eq(consumer_policy_count(), before, "policy count after rejected create (rollback)")

    r.step("validation: fixed-billing component on create -> 400, nothing created", fixed_on_create)

    def fixed_on_patch():
        p, off = need(ctx, "policy", "offering")
        body = PatchedCustomerComponentUsagePolicyRequest(component_limits_set=[limit(off["fixed_component"], 2, 2)])
        err = expect_error(400, pol_patch.sync_detailed, uuidlib.UUID(p["uuid"]), client=staff.client, body=body)
        eq(err, fixed_msg, "400 body")
        now, _ = policy_call(staff, pol_retrieve, p["uuid"])
        eq(limits_set(now), limits_set(p), "limits after rejected PATCH (rollback)")

    r.step("validation: fixed-billing component on PATCH -> 400, limits kept", fixed_on_patch)

    def unknown_component():
        consumer, = need(ctx, "consumer")
        ghost = uuidlib.uuid4()
        body = CustomerComponentUsagePolicyRequest(
            scope=consumer["url"], actions="notify_organization_owners", component_limits_set=[limit(ghost.hex, 1, 2)]
        )
        err = expect_error(400, pol_create.sync_detailed, client=staff.client, body=body)
        eq(err, [f"Component with uuid {ghost} does not exist."], "400 body")

    r.step("validation: unknown component -> 400", unknown_component)

    def unavailable_action():
        consumer, = need(ctx, "consumer")
        body = CustomerComponentUsagePolicyRequest(
            scope=consumer["url"], actions="notify_project_team", component_limits_set=[]
        )
        err = expect_error(400, pol_create.sync_detailed, client=staff.client, body=body)
        eq(err, {"actions": ["notify_project_team includes unavailable actions."]}, "400 body")

    r.step("validation: unavailable action -> 400", unavailable_action)

    def staff_patch_unknown_uuid():
        body = PatchedCustomerComponentUsagePolicyRequest(actions="notify_organization_owners")
        err = expect_error(404, pol_patch.sync_detailed, uuidlib.uuid4(), client=staff.client, body=body)
        check(isinstance(err, dict) and "detail" in err, f"404 body: {err!r}")

    r.step("validation: staff PATCH of an unknown uuid -> 404", staff_patch_unknown_uuid)


# ---------------------------------------------------------------------------------------------------------------
# Scenario 4: filters, paging, count


def scenario_policy_listing(r, ctx):
    staff = ctx["staff"]

    def uuids(items):
        return {i["uuid"] for i in items}

    def make_paging_policies():
        paging, = need(ctx, "paging")
        made = []
        for n in range(PAGING_POLICIES):
            body = CustomerComponentUsagePolicyRequest(
                scope=paging["url"], actions="notify_organization_owners", component_limits_set=[]
            )
            p, _ = policy_call(staff, pol_create, body=body, expect=201, validate=False)
            made.append(p["uuid"])
        ctx["paging_policies"] = made
        validate_policies(p)

    r.step(f"listing: create {PAGING_POLICIES} policies for the paging customer", make_paging_policies)

    filters = [
        ("customer", lambda c: c["url"]),
        ("customer_uuid", lambda c: uuidlib.UUID(c["uuid"])),  # sent hyphenated by the client
        ("scope", lambda c: c["url"]),
        ("scope_uuid", lambda c: uuidlib.UUID(c["uuid"])),
    ]
    for param, value in filters:

        def run(param=param, value=value):
            consumer, paging, provider, expected = need(ctx, "consumer", "paging", "provider", "consumer_policies")
            got, headers = policy_call(staff, pol_list, page_size=100, **{param: value(consumer)})
            eq(uuids(got), expected, f"?{param}= consumer policies")
            eq(headers.get("X-Result-Count"), str(len(expected)), "X-Result-Count")
            made, = need(ctx, "paging_policies")
            got, _ = policy_call(staff, pol_list, page_size=100, **{param: value(paging)})
            eq(uuids(got), set(made), f"?{param}= paging policies")
            got, _ = policy_call(staff, pol_list, **{param: value(provider)})
            eq(got, [], f"?{param}= a customer without policies")

        r.step(f"listing: filter {param}", run)

    def hex_uuid_filters():
        consumer, expected = need(ctx, "consumer", "consumer_policies")
        for param in ("customer_uuid", "scope_uuid"):
            got, _ = policy_call(staff, pol_list, **{param: consumer["uuid"]})  # 32-hex form
            eq(uuids(got), expected, f"?{param}=<hex>")

    r.step("listing: uuid filters accept the 32-hex form", hex_uuid_filters)

    def paging_via_link_header():
        paging, made = need(ctx, "paging", "paging_policies")
        # Same walk as the client's generated sync_all helper (which cannot be used here: it hard-codes
        # page_size=100 and parses with the model that rejects fired_datetime null): follow rel="next",
        # taking only its `page` query parameter and re-sending the original filters.
        seen, pages, page = [], 0, None
        expected_pages = -(-PAGING_POLICIES // PAGE_SIZE)
        while True:
            kwargs = {"customer_uuid": uuidlib.UUID(paging["uuid"]), "page_size": PAGE_SIZE}
            if page is not None:
                kwargs["page"] = int(page)
            items, headers = policy_call(staff, pol_list, **kwargs)
            pages += 1
            check(pages <= expected_pages, "more pages than expected (next link never ends)")
            eq(headers.get("X-Result-Count"), str(PAGING_POLICIES), f"X-Result-Count on page {pages}")
            links = parse_link_header(headers.get("Link", ""))
            check("first" in links and "last" in links, f"Link lacks first/last on page {pages}: {links}")
            eq(len(items), min(PAGE_SIZE, PAGING_POLICIES - len(seen)), f"items on page {pages}")
            eq("prev" in links, pages > 1, f"rel=prev present on page {pages}")
            seen.extend(items)
            if "next" not in links:
                break
            page = parse_qs(urlparse(links["next"]).query).get("page", [None])[0]
            check(page is not None, f"next link without page=: {links['next']}")
            eq(int(page), pages + 1, "page number in the next link")
        eq(pages, expected_pages, "number of pages")
        eq(sorted(i["uuid"] for i in seen), sorted(made), "all policies exactly once across pages")
        created = [i["created"] for i in seen]
        eq(created, sorted(created, reverse=True), "ordering by -created")
        last_page = parse_qs(urlparse(links["last"]).query).get("page", [None])[0]
        eq(last_page, str(expected_pages), "page in the last link")

    r.step(f"listing: page through {PAGING_POLICIES} policies with page_size={PAGE_SIZE} via Link", paging_via_link_header)

    def page_past_end():
        paging, = need(ctx, "paging")
        err = expect_error(
            404, pol_list.sync_detailed, client=staff.client,
            customer_uuid=uuidlib.UUID(paging["uuid"]), page_size=PAGE_SIZE, page=99,
        )
        eq(err, {"detail": "Invalid page."}, "404 body")

    r.step("listing: a page past the end -> 404 Invalid page.", page_past_end)

    def head_count():
        paging, = need(ctx, "paging")
        eq(pol_count.sync(client=staff.client, customer_uuid=uuidlib.UUID(paging["uuid"])), PAGING_POLICIES,
           "HEAD X-Result-Count")

    r.step("listing: HEAD count (X-Result-Count)", head_count)


# ---------------------------------------------------------------------------------------------------------------
# Scenario 5: permissions and visibility


def scenario_policy_permissions(r, ctx):
    staff = ctx["staff"]

    def owner_create_forbidden():
        consumer, owner = need(ctx, "consumer", "owner")
        body = CustomerComponentUsagePolicyRequest(
            scope=consumer["url"], actions="notify_organization_owners", component_limits_set=[]
        )
        eq(expect_error(403, pol_create.sync_detailed, client=owner.client, body=body), NO_PERMISSION, "403 body")

    r.step("permissions: owner create -> 403", owner_create_forbidden)

    def owner_writes_forbidden():
        p, consumer, owner = need(ctx, "policy", "consumer", "owner")
        pid = uuidlib.UUID(p["uuid"])
        put_body = CustomerComponentUsagePolicyRequest(
            scope=consumer["url"], actions="notify_organization_owners", component_limits_set=[]
        )
        patch_body = PatchedCustomerComponentUsagePolicyRequest(actions="notify_external_user")
        eq(expect_error(403, pol_update.sync_detailed, pid, client=owner.client, body=put_body), NO_PERMISSION, "PUT")
        eq(expect_error(403, pol_patch.sync_detailed, pid, client=owner.client, body=patch_body), NO_PERMISSION, "PATCH")
        eq(expect_error(403, pol_destroy.sync_detailed, pid, client=owner.client), NO_PERMISSION, "DELETE")
        # checked before the lookup: an unknown uuid is 403 too, not 404
        eq(expect_error(403, pol_patch.sync_detailed, uuidlib.uuid4(), client=owner.client, body=patch_body),
           NO_PERMISSION, "PATCH of an unknown uuid")
        now, _ = policy_call(staff, pol_retrieve, p["uuid"])
        eq(now, p, "policy unchanged after forbidden writes")

    r.step("permissions: owner PUT/PATCH/DELETE -> 403 (also for unknown uuid)", owner_writes_forbidden)

    def owner_sees_policy():
        p, consumer, owner = need(ctx, "policy", "consumer", "owner")
        items, _ = policy_call(owner, pol_list, page_size=100)
        check(p["uuid"] in {i["uuid"] for i in items}, "owner's list lacks the consumer policy")
        others = {i["scope_uuid"] for i in items} - {consumer["uuid"]}
        eq(others, set(), "owner sees policies of customers without a role")
        got, _ = policy_call(owner, pol_retrieve, uuidlib.UUID(p["uuid"]))
        eq(got["uuid"], p["uuid"], "owner retrieve")
        names = pol_actions.sync(client=owner.client)
        eq(names, ALL_ACTIONS, "actions/ as owner")

    r.step("permissions: owner lists and retrieves the policy", owner_sees_policy)

    def plain_user_sees_nothing():
        p, plain = need(ctx, "policy", "plain")
        items, _ = policy_call(plain, pol_list)
        eq(items, [], "plain user's list")
        err = expect_error(404, pol_retrieve.sync_detailed, uuidlib.UUID(p["uuid"]), client=plain.client)
        check(isinstance(err, dict) and "detail" in err, f"404 body: {err!r}")

    r.step("permissions: user without roles sees no policy (list [], retrieve 404)", plain_user_sees_nothing)

    def unauthenticated():
        anon = Client(base_url=ctx["base_url"], timeout=httpx.Timeout(ctx["timeout"]))
        try:
            pol_list.sync_detailed(client=anon)
        except UnexpectedStatus as exc:
            eq(exc.status_code, 401, "status without credentials")
            eq(json.loads(exc.content), {"detail": "Authentication credentials were not provided."}, "401 body")
        else:
            raise StepFailed("no 401 without credentials")
        bad = AuthenticatedClient(base_url=ctx["base_url"], token="0" * 40, timeout=httpx.Timeout(ctx["timeout"]))
        err = expect_error(401, pol_list.sync_detailed, client=bad)
        eq(err, {"detail": "Invalid token."}, "401 body for a bad token")

    r.step("permissions: no credentials / bad token -> 401", unauthenticated)


# ---------------------------------------------------------------------------------------------------------------
# Scenario 6: actions/ and delete


def scenario_policy_actions_and_delete(r, ctx):
    staff = ctx["staff"]

    def actions():
        eq(pol_actions.sync(client=staff.client), ALL_ACTIONS, "actions/ (8 names, sorted)")

    r.step("policy: GET actions/ returns the 8 action names", actions)

    def delete():
        p, = need(ctx, "policy")
        resp = pol_destroy.sync_detailed(uuidlib.UUID(p["uuid"]), client=staff.client)
        eq(int(resp.status_code), 204, "DELETE status")
        err = expect_error(404, pol_retrieve.sync_detailed, uuidlib.UUID(p["uuid"]), client=staff.client)
        check(isinstance(err, dict) and "detail" in err, f"404 body: {err!r}")
        expect_error(404, pol_destroy.sync_detailed, uuidlib.UUID(p["uuid"]), client=staff.client)
        consumer, = need(ctx, "consumer")
        items, _ = policy_call(staff, pol_list, customer_uuid=uuidlib.UUID(consumer["uuid"]))
        check(p["uuid"] not in {i["uuid"] for i in items}, "deleted policy still listed")
        ctx["consumer_policies"].discard(p["uuid"])

    r.step("policy: DELETE -> 204, then retrieve/DELETE -> 404", delete)


# ---------------------------------------------------------------------------------------------------------------
# Scenario 7: orders, resource lifecycle, set_usage and a policy that fires and resets (SPEC §3-§5, §7)
#
# From here on the policy of this scenario has fired once, so its fired_datetime is a datetime and the generated client
# parses it with no help (the known defect only affects fired_datetime: null).

USAGE_POLICY_ACTIONS = "notify_organization_owners,request_pausing"
USAGE_LIMIT = 100


def raw_json(resp):
    """The decoded JSON body of a generated client's Response (None for an empty body)."""
    return json.loads(resp.content) if resp.content.strip() else None


def scenario_orders_usage_fired_policy(r, ctx):
    staff, sfx = ctx["staff"], ctx["suffix"]

    def order_state(order_uuid, conn):
        o = order_retrieve.sync(uuidlib.UUID(order_uuid), client=conn.client)
        return o

    def drive_order(order_uuid):
        """Approve/complete an order through the client, as the party each state waits for; return the states seen."""
        owner, powner = need(ctx, "owner", "provider_owner")
        seen = []
        for _ in range(5):
            o = order_state(order_uuid, owner)
            seen.append(o.state.value)
            if o.state == OrderState.DONE:
                return seen
            if o.state == OrderState.PENDING_CONSUMER:
                resp = order_approve_consumer.sync_detailed(uuidlib.UUID(order_uuid), client=owner.client)
            elif o.state == OrderState.PENDING_PROVIDER:
                resp = order_approve_provider.sync_detailed(
                    uuidlib.UUID(order_uuid), client=powner.client, body=OrderApproveByProviderRequest()
                )
            elif o.state == OrderState.EXECUTING:
                resp = order_set_done.sync_detailed(uuidlib.UUID(order_uuid), client=powner.client)
            else:
                raise StepFailed(f"order {order_uuid} in state {o.state.value!r} (states seen: {seen})")
            eq(int(resp.status_code), 200, f"HTTP status of the step out of {o.state.value}")
        raise StepFailed(f"order {order_uuid} not done after {seen}")

    # -- Create order and its approval chain -----------------------------------------------------------------------

    def create_order():
        owner, off, project = need(ctx, "owner", "offering", "project")
        need(off, "public_url", "public_plan_url")
        body = OrderCreateRequest(
            offering=off["public_url"],
            project=project["url"],
            plan=off["public_plan_url"],
            attributes=GenericOrderAttributes(name=f"MG Resource {sfx}"),
            limits=OrderCreateRequestLimits.from_dict({"storage_gb": 10}),
        )
        resp = order_create.sync_detailed(client=owner.client, body=body)
        eq(int(resp.status_code), 201, "HTTP status")
        o, raw = resp.parsed, raw_json(resp)
        check(HEX32.match(raw.get("uuid") or ""), f"order uuid is not 32 hex: {raw.get('uuid')!r}")
        check(HEX32.match(raw.get("marketplace_resource_uuid") or ""),
              f"marketplace_resource_uuid is not 32 hex: {raw.get('marketplace_resource_uuid')!r}")
        ctx["order"] = {"uuid": raw["uuid"], "resource_uuid": raw["marketplace_resource_uuid"]}
        eq(o.type_, RequestTypes.CREATE, "order type")
        eq(o.state, OrderState.PENDING_CONSUMER, "order state")
        eq(o.marketplace_resource_uuid.hex, raw["marketplace_resource_uuid"], "parsed marketplace_resource_uuid")
        eq(o.offering_uuid.hex, off["uuid"], "offering_uuid")
        eq(o.project_uuid.hex, project["uuid"], "project_uuid")
        eq(raw.get("limits"), {"storage_gb": 10}, "limits")

    r.step("orders: owner creates a Create order (public offering + nested plan URL) -> 201 pending-consumer",
           create_order)

    def provider_url_rejected():
        owner, off, project = need(ctx, "owner", "offering", "project")
        body = OrderCreateRequest(
            offering=off["url"],  # the provider-offering URL is not accepted (SPEC §5)
            project=project["url"],
            plan=off["public_plan_url"],
            attributes=GenericOrderAttributes(name=f"MG Wrong URL {sfx}"),
        )
        err = expect_error(400, order_create.sync_detailed, client=owner.client, body=body)
        eq(err, {"offering": ["Invalid hyperlink - Incorrect URL match."]}, "400 body")

    r.step("orders: offering named by its provider URL -> 400 Invalid hyperlink", provider_url_rejected)

    def approve_consumer():
        order, owner = need(ctx, "order", "owner")
        resp = order_approve_consumer.sync_detailed(uuidlib.UUID(order["uuid"]), client=owner.client)
        eq(int(resp.status_code), 200, "HTTP status")
        check(isinstance(raw_json(resp), dict) and "detail" in raw_json(resp), f"body: {resp.content[:200]!r}")
        eq(order_state(order["uuid"], owner).state, OrderState.PENDING_PROVIDER, "order state after approve_by_consumer")

    r.step("orders: approve_by_consumer (consumer owner) -> 200, pending-provider", approve_consumer)

    def approve_provider():
        order, powner = need(ctx, "order", "provider_owner")
        resp = order_approve_provider.sync_detailed(
            uuidlib.UUID(order["uuid"]), client=powner.client, body=OrderApproveByProviderRequest()
        )
        eq(int(resp.status_code), 200, "HTTP status (409 would parse as None)")
        check(resp.parsed is not None and isinstance(resp.parsed.detail, str), f"body: {resp.content[:200]!r}")
        eq(order_state(order["uuid"], powner).state, OrderState.EXECUTING, "order state after approve_by_provider")

    r.step("orders: approve_by_provider (provider owner) -> 200, executing", approve_provider)

    def set_done():
        order, owner, powner, off, project = need(ctx, "order", "owner", "provider_owner", "offering", "project")
        resp = order_set_done.sync_detailed(uuidlib.UUID(order["uuid"]), client=powner.client)
        eq(int(resp.status_code), 200, "HTTP status")
        eq(order_state(order["uuid"], owner).state, OrderState.DONE, "order state (marketplace_orders_retrieve)")
        res = resource_retrieve.sync(uuidlib.UUID(order["resource_uuid"]), client=owner.client)
        eq(res.uuid.hex, order["resource_uuid"], "resource uuid")
        eq(res.state, ResourceState.OK, "resource state (marketplace_resources_retrieve)")
        eq(res.offering_uuid.hex, off["uuid"], "resource offering_uuid")
        eq(res.project_uuid.hex, project["uuid"], "resource project_uuid")
        eq(res.name, f"MG Resource {sfx}", "resource name from attributes.name")
        eq(res.limits.to_dict() if res.limits else None, {"storage_gb": 10}, "resource limits")
        eq(res.paused, False, "resource paused before any policy fired")
        ctx["resource"] = order["resource_uuid"]

    r.step("orders: set_state_done (provider owner) -> 200; order done, resource OK", set_done)

    # -- The policy, usage reports, fire and reset ------------------------------------------------------------------

    def create_usage_policy():
        consumer, off = need(ctx, "consumer", "offering")
        body = CustomerComponentUsagePolicyRequest(
            scope=consumer["url"],
            actions=USAGE_POLICY_ACTIONS,
            component_limits_set=[limit(off["usage_component"], USAGE_LIMIT, 2)],
        )
        p, _ = policy_call(staff, pol_create, body=body, expect=201, validate=False)
        ctx["usage_policy"] = p
        validate_policies(p)
        check_policy_shape(p, ctx, consumer)
        eq(p["actions"], USAGE_POLICY_ACTIONS, "actions")
        eq(limits_set(p), [(off["usage_component"], USAGE_LIMIT, 2, "1 month", "cpu_hours")], "component_limits_set")
        eq((p["has_fired"], p["fired_datetime"]), (False, None), "(has_fired, fired_datetime) with no usage")

    r.step("usage policy: create cpu_hours limit 100 (period 2) on the consumer -> 201, not fired",
           create_usage_policy)

    def report(amount):
        res, powner = need(ctx, "resource", "provider_owner")
        body = ComponentUsageCreateRequest(
            resource=uuidlib.UUID(res), usages=[ComponentUsageItemRequest(type_="cpu_hours", amount=amount)]
        )
        resp = set_usage.sync_detailed(client=powner.client, body=body)
        eq(int(resp.status_code), 201, f"set_usage {amount} HTTP status")

    def policy_now():
        """GET the policy with the generated client alone (valid once fired_datetime is non-null)."""
        p, = need(ctx, "usage_policy")
        resp = pol_retrieve.sync_detailed(uuidlib.UUID(p["uuid"]), client=staff.client)
        eq(int(resp.status_code), 200, "HTTP status")
        check(isinstance(resp.parsed, CustomerComponentUsagePolicy), f"not parsed: {resp.parsed!r}")
        return resp.parsed, raw_json(resp)

    def set_usage_at_limit():
        report("100")
        p, = need(ctx, "usage_policy")
        now, _ = policy_call(staff, pol_retrieve, uuidlib.UUID(p["uuid"]))
        eq(now["has_fired"], False, "has_fired at usage == limit (equal is not over)")
        eq(now["fired_datetime"], None, "fired_datetime")
        eq(now["affected_resources_count"], 0, "affected_resources_count")

    r.step("usage: set_usage cpu_hours 100 (provider owner) -> 201; equal to the limit does not fire",
           set_usage_at_limit)

    def set_usage_over_limit():
        report("150.5")
        consumer, = need(ctx, "consumer")
        parsed, raw = policy_now()  # the very next GET
        ctx["usage_policy_fired"] = raw
        check_policy_shape(raw, ctx, consumer)
        eq(parsed.has_fired, True, "has_fired after 150.5 > 100")
        check(isinstance(parsed.fired_datetime, datetime.datetime),
              f"fired_datetime not parsed to a datetime: {parsed.fired_datetime!r}")
        check(DATETIME_RE.match(raw["fired_datetime"] or ""), f"fired_datetime format: {raw['fired_datetime']!r}")
        check(parsed.fired_datetime >= parsed.created, "fired_datetime before created")
        listed = pol_list.sync(client=staff.client, customer_uuid=uuidlib.UUID(consumer["uuid"]))
        eq([x.uuid.hex for x in listed], [raw["uuid"]], "policies_list parsed by the client (all fired)")
        eq(listed[0].fired_datetime, parsed.fired_datetime, "fired_datetime in the list")

    r.step("usage: set_usage 150.5 -> 201; next GET has_fired true, fired_datetime parsed by the client model",
           set_usage_over_limit)

    def paused_by_policy():
        res, owner, _ = need(ctx, "resource", "owner", "usage_policy_fired")
        eq(resource_retrieve.sync(uuidlib.UUID(res), client=owner.client).paused, True, "resource paused")
        parsed, _ = policy_now()
        # upstream-reference §3.2: fired, request_pausing in actions, supports_pausing, paused -> counted
        eq(parsed.affected_resources_count, 1, "policy affected_resources_count (the paused resource)")

    r.step("usage: request_pausing paused the resource; the policy's affected_resources_count is 1", paused_by_policy)

    def usage_rows(expected):
        res, off = need(ctx, "resource", "offering")
        resp = usage_list.sync_detailed(client=staff.client, resource_uuid=uuidlib.UUID(res))
        eq(int(resp.status_code), 200, "HTTP status")
        rows, raw = resp.parsed, raw_json(resp)
        eq(len(rows), 1, f"component usage rows for the resource: {raw!r}")
        eq(raw[0].get("usage"), expected, "usage")
        eq(rows[0].type_, "cpu_hours", "type")
        eq(rows[0].resource_uuid.hex, res, "resource_uuid")
        eq(rows[0].offering_uuid.hex, off["uuid"], "offering_uuid")
        check(rows[0].billing_period.day == 1, f"billing_period not a month start: {rows[0].billing_period}")
        eq(resp.headers.get("X-Result-Count"), "1", "X-Result-Count")

    r.step("usage: component usages list by resource_uuid -> one row 150.50 (replace, not add)",
           usage_rows, "150.50")

    def status(expect_usage, expect_over, remaining, percent):
        p, off = need(ctx, "usage_policy", "offering")
        # not in waldur-api-client: the client's own httpx client (same auth, base URL)
        resp = staff.client.get_httpx_client().get(f"{POLICIES_PATH}{p['uuid']}/status/")
        eq(resp.status_code, 200, "HTTP status")
        body = resp.json()
        eq(body.get("policy_uuid"), p["uuid"], "policy_uuid")
        check(DATETIME_RE.match(body.get("evaluated_at") or ""), f"evaluated_at: {body.get('evaluated_at')!r}")
        fired = need(ctx, "usage_policy_fired")[0]["fired_datetime"]
        eq((body.get("has_fired"), body.get("fired_datetime")), (expect_over, fired), "(has_fired, fired_datetime)")
        rows = body.get("limits")
        check(isinstance(rows, list) and len(rows) == 1, f"limits: {rows!r}")
        row = rows[0]
        got = {k: row.get(k) for k in ("component", "type", "period", "period_name", "usage", "limit", "over",
                                       "remaining", "percent")}
        eq(got, {"component": off["usage_component"], "type": "cpu_hours", "period": 2, "period_name": "1 month",
                 "usage": expect_usage, "limit": USAGE_LIMIT, "over": expect_over, "remaining": remaining,
                 "percent": percent}, "limit row")

    r.step("status: GET .../status/ while over -> usage 150.50, limit 100, over true", status,
           "150.50", True, "-50.50", 150.5)

    def set_usage_below():
        fired, = need(ctx, "usage_policy_fired")
        report("10")
        parsed, raw = policy_now()
        eq(parsed.has_fired, False, "has_fired after 10 <= 100")
        eq(raw["fired_datetime"], fired["fired_datetime"], "fired_datetime kept on reset")
        eq(raw["affected_resources_count"], 0, "affected_resources_count after reset")
        res, owner = need(ctx, "resource", "owner")
        eq(resource_retrieve.sync(uuidlib.UUID(res), client=owner.client).paused, False,
           "resource paused after reset (reset_pausing)")
        usage_rows("10.00")

    r.step("usage: set_usage 10 -> has_fired false, fired_datetime unchanged, resource un-paused, one row 10.00",
           set_usage_below)

    r.step("status: GET .../status/ after reset -> usage 10.00, over false", status, "10.00", False, "90.00", 10.0)

    def events():
        consumer, p, off = need(ctx, "consumer", "usage_policy", "offering")
        cid = uuidlib.UUID(consumer["uuid"])
        got = {}
        for kind in ("policy_fired", "policy_reset"):
            items = events_list.sync(client=staff.client, customer_uuid=cid, event_type=[kind])
            eq([e.event_type for e in items], [kind], f"events of type {kind} for the customer")
            ev = items[0]
            check(isinstance(ev.uuid, uuidlib.UUID), f"{kind} uuid")
            check(isinstance(ev.created, datetime.datetime), f"{kind} created")
            check(isinstance(ev.message, str) and ev.message, f"{kind} message")
            context = ev.context.to_dict()
            eq(context.get("policy_uuid"), p["uuid"], f"{kind} context.policy_uuid")
            eq(context.get("customer_uuid"), consumer["uuid"], f"{kind} context.customer_uuid")
            eq(context.get("customer_name"), consumer["name"], f"{kind} context.customer_name")
            got[kind] = ev
        exceeded = got["policy_fired"].context.to_dict().get("exceeded")
        eq(exceeded, [{"component": off["usage_component"], "type": "cpu_hours", "period": 2, "usage": "150.50",
                       "limit": USAGE_LIMIT}], "policy_fired context.exceeded")
        both = events_list.sync(client=staff.client, customer_uuid=cid, event_type=["policy_fired", "policy_reset"])
        eq([e.event_type for e in both], ["policy_reset", "policy_fired"], "both types (repeated key), newest first")

    r.step("events: events_list policy_fired / policy_reset for the customer -> one of each", events)

    # -- Update and Terminate orders from the resource actions -----------------------------------------------------

    def update_limits():
        res, owner = need(ctx, "resource", "owner")
        body = ResourceUpdateLimitsRequest(limits=ResourceUpdateLimitsRequestLimits.from_dict({"storage_gb": 20}))
        resp = resource_update_limits.sync_detailed(uuidlib.UUID(res), client=owner.client, body=body)
        eq(int(resp.status_code), 200, "HTTP status")
        order_uuid = resp.parsed.order_uuid.hex
        o = order_state(order_uuid, owner)
        eq(o.type_, RequestTypes.UPDATE, "order type")
        eq(o.marketplace_resource_uuid.hex, res, "order marketplace_resource_uuid")
        seen = drive_order(order_uuid)
        now = resource_retrieve.sync(uuidlib.UUID(res), client=owner.client)
        eq(now.state, ResourceState.OK, f"resource state after the Update order (order states {seen})")
        eq(now.limits.to_dict() if now.limits else None, {"storage_gb": 20}, "resource limits")

    r.step("resources: update_limits (owner) -> 200 order_uuid; after approve/done limits updated, state OK",
           update_limits)

    def terminate():
        res, owner = need(ctx, "resource", "owner")
        resp = resource_terminate.sync_detailed(uuidlib.UUID(res), client=owner.client, body=ResourceTerminateRequest())
        eq(int(resp.status_code), 200, "HTTP status")
        order_uuid = resp.parsed.order_uuid.hex
        o = order_state(order_uuid, owner)
        eq(o.type_, RequestTypes.TERMINATE, "order type")
        eq(o.marketplace_resource_uuid.hex, res, "order marketplace_resource_uuid")
        seen = drive_order(order_uuid)
        now = resource_retrieve.sync(uuidlib.UUID(res), client=owner.client)
        eq(now.state, ResourceState.TERMINATED, f"resource state after the Terminate order (order states {seen})")

    r.step("resources: terminate (owner) -> 200 order_uuid; after approve/done the resource is Terminated", terminate)


SCENARIOS = [
    scenario_setup,
    scenario_policy_crud,
    scenario_policy_validation,
    scenario_policy_listing,
    scenario_policy_permissions,
    scenario_policy_actions_and_delete,
    scenario_orders_usage_fired_policy,
]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8000")
    ap.add_argument("--staff-token", required=True, help="token printed by `meterguard create-staff-user`")
    ap.add_argument("--timeout", type=float, default=30.0, help="per-request timeout in seconds")
    args = ap.parse_args(argv)

    base_url = args.base_url.rstrip("/")
    ctx = {
        "base_url": base_url,
        "timeout": args.timeout,
        "suffix": secrets.token_hex(4),  # unique names: the script can run repeatedly against one database
        "staff": Conn(base_url, args.staff_token.strip(), "staff", args.timeout),
    }
    r = Runner()
    for scenario in SCENARIOS:
        try:
            scenario(r, ctx)
        except Exception as exc:  # noqa: BLE001 - a broken scenario counts as one failure, the rest still runs
            r.failed += 1
            print(f"FAIL {scenario.__name__}: {describe(exc)}", flush=True)
    print(f"{r.passed} passed, {r.failed} failed", flush=True)
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
