"""Every inventory URL, staff and portal, walked with the whole cast: who may read or act on what, no secret
on any page, message, audit row or log line, and no 500 on malformed input.

The URL lists come from the resolver, so a new view is walked by these tests the day it is added.
"""

from __future__ import annotations

import html
import json
import logging

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from integrations.iproxy.kinds import IPROXY, IPROXY_ACCESS, IPROXY_CONNECTION
from integrations.proxyshop.kinds import PROXY_SHOP, SHOP_SUBSCRIPTION
from integrations.unknownproxies.kinds import ISP_TOKEN, RESI_TOKEN, UNKNOWN_PROXIES
from inventory import assignment
from inventory.models import Resource, ResourceStatus
from inventory.sync import sync_account
from ops.models import AuditEvent
from providers.http import errors
from providers.registry import client_for_account
from tests.factories import ProviderAccountFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_cache")]

RESI, ISP, SHOP = RESI_TOKEN, ISP_TOKEN, SHOP_SUBSCRIPTION
ACCESS, PHONE = IPROXY_ACCESS, IPROXY_CONNECTION
ANY = "any"
MISSING = 987654321

# The kind of resource each URL acts on (ANY: every kind). A new URL must be added here to be walked
# with a resource it accepts; every other check below covers it without this table.
PORTAL_KINDS = {
    "proxy-detail": ANY,
    "up-isp-settings": ISP,
    "shop-credentials": SHOP,
    "shop-rotation": SHOP,
    "shop-rotate": SHOP,
    "shop-network": SHOP,
    "iproxy-access-new-credentials": ACCESS,
    "iproxy-access-change-ip": ACCESS,
    "iproxy-access-statistics": ACCESS,
    "iproxy-access-connection": ACCESS,
}
STAFF_KINDS = {
    "resource-detail": ANY,
    "resource-assign": ANY,
    "up-resi-modify": RESI,
    "up-isp-modify": ISP,
    "up-resi-refresh": RESI,
    "up-isp-refresh": ISP,
    "shop-renew": SHOP,
    "shop-credentials": SHOP,
    "shop-rotation": SHOP,
    "shop-rotate": SHOP,
    "shop-network": SHOP,
    "iproxy-connection": PHONE,
    "iproxy-connection-settings": PHONE,
    "iproxy-connection-prolongate": PHONE,
    "iproxy-connection-reboot": PHONE,
    "iproxy-connection-change-ip": PHONE,
    "iproxy-access-create": PHONE,
    "iproxy-access-update": ACCESS,
    "iproxy-access-delete": ACCESS,
    "iproxy-connection-basic-info": PHONE,
    "iproxy-connection-change-plan": PHONE,
    "iproxy-connection-recreate": PHONE,
    "iproxy-connection-delete": PHONE,
    "iproxy-connection-command": PHONE,
    "iproxy-connection-pin-code": PHONE,
    "iproxy-connection-api-key": PHONE,
    "iproxy-connection-capacity": PHONE,
    "iproxy-ovpn": PHONE,
    "iproxy-ovpn-create": PHONE,
    "iproxy-ovpn-update": PHONE,
    "iproxy-ovpn-delete": PHONE,
    "iproxy-ovpn-config": PHONE,
    "iproxy-team": PHONE,
    "iproxy-team-modify": PHONE,
    "iproxy-team-remove": PHONE,
    "iproxy-links": PHONE,
    "iproxy-link-create": PHONE,
    "iproxy-link-delete": PHONE,
    "iproxy-sms": PHONE,
    "iproxy-statistics": PHONE,
}
# Staff URLs for owners only (money, secrets shown once, the team): support gets 403 whatever the resource.
OWNER_ONLY = {
    "iproxy-connection-change-plan",
    "iproxy-connection-recreate",
    "iproxy-connection-delete",
    "iproxy-connection-pin-code",
    "iproxy-connection-api-key",
    "iproxy-connection-capacity",
    "iproxy-team",
    "iproxy-team-modify",
    "iproxy-team-remove",
    "iproxy-links",
    "iproxy-link-create",
    "iproxy-link-delete",
    "iproxy-sms",
}


# The provider kind of the account each account-level URL acts on (default: iProxy's).
ACCOUNT_KINDS = {
    "up-resi-create": UNKNOWN_PROXIES,
    "up-isp-create": UNKNOWN_PROXIES,
    "shop-plans": PROXY_SHOP,
    "shop-purchase": PROXY_SHOP,
    "shop-trial": PROXY_SHOP,
}


def _walk(resolvers, namespace: str):
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace or namespace
            yield from _walk(entry.url_patterns, inner or "")
        elif isinstance(entry, URLPattern) and entry.name:
            yield namespace, entry


def url_patterns(namespace: str) -> list[tuple[str, list[str]]]:
    """(url name, its keyword arguments) for every named URL of a namespace, from the resolver."""
    found = [
        (pattern.name, sorted(pattern.pattern.converters))
        for ns, pattern in _walk(get_resolver().url_patterns, "")
        if ns == namespace
    ]
    assert found, namespace
    return found


PORTAL = url_patterns("portal")
STAFF = url_patterns("inventory")
PORTAL_RESOURCE_URLS = [name for name, kwargs in PORTAL if kwargs == ["resource_id"]]
STAFF_RESOURCE_URLS = [name for name, kwargs in STAFF if kwargs == ["resource_id"]]


def url(namespace: str, name: str, kwargs: list[str], cast: Cast | None = None, resource_id: int = MISSING) -> str:
    values = {
        "resource_id": resource_id,
        "export_format": "csv",
        "job_id": MISSING,
        "key_id": MISSING,
        "notification_id": MISSING,
        "endpoint_id": MISSING,
    }
    if "account_id" in kwargs:
        values["account_id"] = cast.accounts[ACCOUNT_KINDS.get(name, IPROXY)].pk if cast else MISSING
    return reverse(f"{namespace}:{name}", kwargs={key: values[key] for key in kwargs})


def writes(sandbox) -> list[str]:
    """Every upstream request that could change something (a state-changing GET link included)."""
    return [
        f"{call.request.method} {call.request.url}"
        for call in sandbox.calls()
        if call.request.method != "GET" or "/shop/r/" in call.request.url or "/actionlinks/do/" in call.request.url
    ]


def anonymous_client() -> Client:
    return Client()


def logged_in(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


class Cast:
    """The demo data mirrored from the sandbox, shared out: alice and bob each own one of every kind."""

    def __init__(self, alice, bob):
        self.accounts = {}
        for kind in (UNKNOWN_PROXIES, PROXY_SHOP, IPROXY):
            self.accounts[kind] = ProviderAccountFactory(kind=kind)
            assert sync_account(account=self.accounts[kind]).outcome == "ok"
        self.iproxy_account = self.accounts[IPROXY]
        live = Resource.objects.exclude(status__in=[ResourceStatus.VANISHED, ResourceStatus.EXPIRED])

        def pick(kind, **filters):
            return live.filter(kind=kind, customer__isnull=True, **filters).order_by("id").first()

        def give(resource, user):
            return assignment.resource_assign(resource=resource, customer=user.customer, actor=None)

        self.alice = {
            RESI: give(pick(RESI, upstream_id="resiActive01"), alice),
            ISP: give(pick(ISP, upstream_id="ispActive001"), alice),
            SHOP: give(pick(SHOP, upstream_id="subnlrotating"), alice),
            ACCESS: give(pick(ACCESS, upstream__description="main http proxy"), alice),
        }
        self.bob = {
            RESI: give(pick(RESI), bob),
            ISP: give(pick(ISP, upstream__authType="ip"), bob),
            SHOP: give(pick(SHOP, upstream_id="subdestatic"), bob),
            ACCESS: give(pick(ACCESS, upstream__auth_type="userpass"), bob),
        }
        self.phone = Resource.objects.get(kind=PHONE, label="online with plan")
        # A proxy of alice's that has ended upstream: still readable by her, never actionable.
        gone = pick(SHOP, upstream_id="subnlexpiring")
        Resource.objects.filter(pk=gone.pk).update(status=ResourceStatus.VANISHED)
        self.vanished = give(Resource.objects.get(pk=gone.pk), alice)
        assert None not in (*self.alice.values(), *self.bob.values())

    def everything(self) -> list[Resource]:
        return [*self.alice.values(), *self.bob.values(), self.phone, self.vanished]


@pytest.fixture
def cast(sandbox, alice, bob):
    return Cast(alice, bob)


def _ok_for(table: dict[str, str], name: str, resource: Resource) -> bool:
    assert name in table, f"add {name!r} to the kind table of test_access_review.py"
    return table[name] in (ANY, resource.kind)


# 1. Access ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "name", "kwargs"), [("portal", *p) for p in PORTAL] + [("inventory", *p) for p in STAFF]
)
def test_it_sends_anonymous_visitors_to_the_login_page(cast, sandbox, namespace, name, kwargs):
    client = anonymous_client()
    for resource in cast.everything():
        address = url(namespace, name, kwargs, cast, resource.pk)
        for response in (client.get(address), client.post(address, {})):
            assert response.status_code == 302 and "/login" in response.url, address
    assert writes(sandbox) == []


@pytest.mark.parametrize(("name", "kwargs"), STAFF)
def test_it_refuses_customers_every_staff_url(cast, sandbox, alice, name, kwargs):
    client = logged_in(alice)
    for resource in cast.alice.values():
        address = url("inventory", name, kwargs, cast, resource.pk)
        assert client.get(address).status_code == 403, address
        assert client.post(address, {}).status_code == 403, address
    assert writes(sandbox) == []


@pytest.mark.parametrize(("name", "kwargs"), PORTAL)
def test_it_refuses_staff_the_portal(cast, sandbox, owner, support, name, kwargs):
    for user in (owner, support):
        client = logged_in(user)
        address = url("portal", name, kwargs, cast, cast.alice[ISP].pk)
        assert client.get(address).status_code == 403, address
        assert client.post(address, {}).status_code == 403, address
    assert writes(sandbox) == []


@pytest.mark.parametrize("name", PORTAL_RESOURCE_URLS)
def test_it_hides_other_customers_phones_and_missing_ids_from_a_customer(cast, sandbox, alice, bob, name):
    """Someone else's proxy, a phone, or an id that does not exist: all the same 404, for reading or acting."""
    for user, foreign in ((bob, cast.alice.values()), (alice, [*cast.bob.values(), cast.phone])):
        client = logged_in(user)
        for resource_id in [*(r.pk for r in foreign), MISSING]:
            address = reverse(f"portal:{name}", kwargs={"resource_id": resource_id})
            # A POST-only URL answers a GET with 405 whatever the id: that reveals nothing.
            assert client.get(address).status_code in (404, 405), (user, address)
            assert client.post(address, {}).status_code == 404, (user, address)
    assert writes(sandbox) == []


@pytest.mark.parametrize("name", PORTAL_RESOURCE_URLS)
def test_it_serves_a_customer_only_the_urls_meant_for_each_of_their_proxies(cast, sandbox, alice, name):
    client = logged_in(alice)
    for resource in [*cast.alice.values(), cast.vanished]:
        address = reverse(f"portal:{name}", kwargs={"resource_id": resource.pk})
        status = client.get(address).status_code
        if _ok_for(PORTAL_KINDS, name, resource):
            assert status in (200, 302, 405), address
        else:
            assert status in (404, 405), address
            assert client.post(address, {}).status_code == 404, address
    assert writes(sandbox) == []


@pytest.mark.parametrize("name", STAFF_RESOURCE_URLS)
def test_it_serves_staff_each_url_for_its_own_kind_only(cast, sandbox, owner, support, name):
    for user in (owner, support):
        client = logged_in(user)
        if user == support and name in OWNER_ONLY:
            for resource_id in [*(r.pk for r in cast.everything()), MISSING]:
                address = reverse(f"inventory:{name}", kwargs={"resource_id": resource_id})
                assert client.get(address).status_code == 403, address
                assert client.post(address, {}).status_code == 403, address
            continue
        for resource in cast.everything():
            address = reverse(f"inventory:{name}", kwargs={"resource_id": resource.pk})
            status = client.get(address).status_code
            if _ok_for(STAFF_KINDS, name, resource):
                assert status in (200, 302, 405), address
            else:
                assert status in (404, 405), address
                assert client.post(address, {}).status_code == 404, address
        assert client.post(reverse(f"inventory:{name}", kwargs={"resource_id": MISSING}), {}).status_code == 404
    assert writes(sandbox) == []


def _all_urls(cast) -> list[tuple[str, str, Resource | None]]:
    found = []
    for namespace, table, patterns in (("portal", PORTAL_KINDS, PORTAL), ("inventory", STAFF_KINDS, STAFF)):
        for name, kwargs in patterns:
            if "resource_id" not in kwargs:
                found.append((namespace, url(namespace, name, kwargs, cast), None))
                continue
            mine = cast.alice.values() if namespace == "portal" else cast.everything()
            for resource in mine:
                if _ok_for(table, name, resource):
                    found.append((namespace, url(namespace, name, kwargs, cast, resource.pk), resource))
    return found


def test_it_changes_nothing_on_a_get(cast, sandbox, owner, alice):
    """Every state change is a POST: a GET of any URL (a link, a prefetch, a crawler) sends nothing upstream."""
    clients = {"portal": logged_in(alice), "inventory": logged_in(owner)}
    for namespace, address, _ in _all_urls(cast):
        assert clients[namespace].get(address).status_code < 500, address
    assert writes(sandbox) == []
    assert (
        not AuditEvent.objects.exclude(action__in=["inventory.assign", "inventory.unassign"])
        .exclude(action="inventory.sync")
        .exists()
    )


def test_it_refuses_every_post_without_a_csrf_token(cast, sandbox, owner, alice):
    clients = {
        "portal": logged_in(alice, enforce_csrf_checks=True),
        "inventory": logged_in(owner, enforce_csrf_checks=True),
    }
    for namespace, address, _ in _all_urls(cast):
        assert clients[namespace].post(address, {}).status_code == 403, address
    assert writes(sandbox) == []


def test_it_answers_only_get_and_post_on_the_new_phone_page(cast, sandbox, owner):
    address = reverse("inventory:iproxy-connection-new", kwargs={"account_id": cast.iproxy_account.pk})
    client = logged_in(owner)
    assert client.put(address, "name=x").status_code == 405
    assert client.delete(address).status_code == 405
    assert writes(sandbox) == []


def test_it_refuses_a_suspended_customer_everything(cast, sandbox, alice):
    alice.customer.status = alice.customer.Status.SUSPENDED
    alice.customer.save()
    client = logged_in(alice)
    for namespace, address, _ in _all_urls(cast):
        if namespace == "portal":
            assert client.get(address).status_code == 403, address
            assert client.post(address, {}).status_code == 403, address
    assert writes(sandbox) == []


# 2. Secrets -------------------------------------------------------------------------------------------


def _secrets(cast) -> dict[str, str]:
    """What must never be shown: provider keys, the shop's rotate links, iProxy action links and API keys."""
    found = {f"{account.kind} API key": account.secret for account in cast.accounts.values()}
    shop = client_for_account(cast.accounts[PROXY_SHOP])
    for subscription in shop.subscriptions():
        if subscription.rotate and subscription.rotate.rotate_path:
            found[f"rotate path of {subscription.id}"] = subscription.rotate.rotate_path
    iproxy = client_for_account(cast.iproxy_account)
    for link in iproxy.list_all_action_links():
        found[f"action link {link.id}"] = link.link
        found[f"action link id {link.id}"] = link.id
    return found


def _passwords(resources) -> set[str]:
    found = set()
    for resource in resources:
        data = resource.upstream or {}
        for value in (data.get("password"), (data.get("credentials") or {}).get("password")):
            found.add(value)
        found.add((data.get("auth") or {}).get("password"))
    return {value for value in found if value}


def _page(response) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return html.unescape(body.decode(errors="replace"))


def test_it_shows_no_secret_on_any_page_message_audit_row_or_log(cast, sandbox, owner, support, alice, bob, caplog):
    caplog.set_level(logging.DEBUG)
    pages: list[str] = []
    # Each action once, as staff and as a customer, so their messages and audit rows are checked too.
    staff, customer = logged_in(owner), logged_in(alice)
    for address, client in (
        (f"/staff/inventory/{cast.bob[SHOP].pk}/shop/rotate/", staff),
        (f"/portal/proxies/{cast.alice[SHOP].pk}/shop/rotate/", customer),
        (f"/portal/proxies/{cast.alice[SHOP].pk}/shop/credentials/", customer),
        (f"/portal/proxies/{cast.alice[ACCESS].pk}/iproxy/change-ip/", customer),
        (f"/portal/proxies/{cast.alice[ACCESS].pk}/iproxy/new-credentials/", customer),
        (f"/staff/inventory/iproxy/connections/{cast.phone.pk}/change-ip/", staff),
    ):
        pages.append(_page(client.post(address, {"via": "link"}, follow=True)))
    for resource in cast.everything():
        resource.refresh_from_db()
    for user in (owner, support, alice, bob):
        client = logged_in(user)
        for namespace, address, _ in _all_urls(cast):
            if (namespace == "portal") == user.is_customer_user:
                pages.append(_page(client.get(address)))
    secrets = _secrets(cast)
    assert any(name.startswith("rotate path") for name in secrets) and any("action link" in n for n in secrets)
    audit_rows = json.dumps([[event.action, event.data] for event in AuditEvent.objects.all()])
    logs = "\n".join(record.getMessage() for record in caplog.records)
    for name, secret in secrets.items():
        assert secret not in audit_rows, name
        assert secret not in logs, name
        for text in pages:
            assert secret not in text, name


def test_it_shows_a_customer_their_own_passwords_and_nobody_elses(cast, alice, bob):
    client = logged_in(bob)
    pages = [_page(client.get(address)) for namespace, address, _ in _all_urls(cast) if namespace == "portal"]
    pages += [_page(client.get(f"/portal/proxies/export.{fmt}")) for fmt in ("csv", "txt")]
    text = "\n".join(pages)
    for password in _passwords([*cast.alice.values(), cast.phone]) - _passwords(cast.bob.values()):
        assert password not in text
    own = logged_in(alice)
    for resource in cast.alice.values():
        shown = _page(own.get(f"/portal/proxies/{resource.pk}/"))
        assert _passwords([resource]) and all(p in shown for p in _passwords([resource])), resource.kind


# 3. Input ---------------------------------------------------------------------------------------------

FIELDS = [
    "data_limit",
    "duration_hours",
    "allowed_pools",
    "allowed_pools_shown",
    "auth_type",
    "authenticated_ips",
    "proxy_type",
    "username",
    "password",
    "rotation_policy",
    "target_network",
    "customer",
    "name",
    "description",
    "country",
    "city",
    "server_id",
    "prolongation_enabled",
    "days",
    "coupon_code",
    "via",
    "listen_service",
    "login",
    "acl_inbound_ips",
    "expires_at",
    "clear_expiry",
    "dns",
    "low_battery_reboot_threshold",
    "ip_change_interval_minutes",
    "tariff_notify_hours_before_expired",
    "tcp_fingerprint",
    "ip_change_enabled",
    "macros_url",
    "request_key",
    "data_limit_gb",
    "region",
    "product",
    "quantity",
    "plan_id",
    "repeat_count",
    "coupon_percent",
    "confirmed_cents",
    "display_name",
    "telegram",
    "proxy_prefix",
]
BAD_VALUES = ["", "abc", "-1", "9" * 5000, "1e999", "nan", "0001-01-01T00:00", "9999-12-31T23:59", "\x00", "x" * 20000]


def _payloads(resource: Resource | None) -> list[dict]:
    fields = list(FIELDS)
    if resource is not None and resource.kind == ACCESS:
        fields += [f"access-{resource.upstream_id}-{name}" for name in FIELDS]
    payloads: list[dict] = [{}]
    payloads += [{name: value for name in fields} for value in BAD_VALUES]
    payloads.append({name: ["a", "b", "c"] for name in fields})
    return payloads


# Views that take no input: any POST is a valid request to act, so only "no 500" is asked of them.
NO_INPUT = (
    "/shop/credentials/",
    "/shop/rotate/",
    "/new-credentials/",
    "/iproxy/change-ip/",
    "/delete/",
    "/assign/",
    "/pin-code/",
    "/api-key/",
)
# Views whose fields take any text of 1-256 characters (a phone's name, an OpenVPN access's, an iProxy plan id
# that only upstream can judge): "abc", "-1" or "nan" posted there is a real request, so only "no 500" is asked.
FREE_TEXT = ("/account/update/", "/basic-info/", "/ovpn/new/", "/change-plan/")


def test_it_survives_malformed_posts_on_every_url_and_sends_nothing_for_bad_input(cast, sandbox, owner, alice):
    clients = {"portal": logged_in(alice), "inventory": logged_in(owner)}
    for namespace, address, resource in _all_urls(cast):
        if address.endswith("/delete/") or address.endswith("/sync/" + str(cast.iproxy_account.pk) + "/"):
            continue
        for payload in _payloads(resource):
            before = len(writes(sandbox))
            response = clients[namespace].post(address, payload)
            assert response.status_code < 500, (address, str(payload)[:80])
            # An empty field can be a real change (clearing a whitelist or the DNS servers): not bad input.
            if any(marker in address for marker in NO_INPUT + FREE_TEXT) or not payload or "" in payload.values():
                continue
            assert len(writes(sandbox)) == before, (address, str(payload)[:80], writes(sandbox)[before:])


def test_it_refuses_an_unknown_way_to_send_a_command(cast, sandbox, owner):
    client = logged_in(owner)
    response = client.post(
        f"/staff/inventory/iproxy/connections/{cast.phone.pk}/reboot/", {"via": "carrier-pigeon"}, follow=True
    )
    assert writes(sandbox) == []
    assert any("Select a valid choice" in str(m) for m in response.context["messages"])


def test_it_refuses_an_access_update_that_changes_nothing(cast, sandbox, owner):
    access = cast.alice[ACCESS]
    response = logged_in(owner).post(f"/staff/inventory/iproxy/accesses/{access.pk}/update/", {})
    assert response.status_code == 400 and "send at least one field to change" in _page(response)
    assert writes(sandbox) == []
    assert not AuditEvent.objects.filter(action="iproxy.access.update").exists()


def test_it_refuses_phone_settings_that_change_nothing(cast, sandbox, owner):
    response = logged_in(owner).post(f"/staff/inventory/iproxy/connections/{cast.phone.pk}/settings/", {})
    assert response.status_code == 400 and "send at least one setting to change" in _page(response)
    assert writes(sandbox) == []


def test_it_refuses_a_number_too_long_to_convert_instead_of_failing(cast, sandbox, owner):
    response = logged_in(owner).post(
        f"/staff/inventory/iproxy/connections/{cast.phone.pk}/settings/",
        {"tariff_notify_hours_before_expired": "9" * 5000},
    )
    assert response.status_code == 400
    assert writes(sandbox) == []


# 4. Errors --------------------------------------------------------------------------------------------

PROVIDER_ERRORS = [
    errors.AuthenticationError,
    errors.ForbiddenError,
    errors.InvalidRequestError,
    errors.InsufficientBalanceError,
    errors.NotFoundError,
    errors.ConflictError,
    errors.SoldOutError,
    errors.RotationUnavailableError,
    errors.RateLimitedError,
    errors.UnavailableError,
    errors.UnknownOutcomeError,
    errors.MalformedResponseError,
    errors.TrialNotEnabledError,
    errors.CouponRejectedError,
]


def _every_subclass(cls) -> set[type]:
    return {cls, *(sub for child in cls.__subclasses__() for sub in _every_subclass(child))}


def test_the_error_table_names_every_provider_error():
    assert _every_subclass(errors.ProviderError) - {errors.ProviderError} == set(PROVIDER_ERRORS)


# (url, payload, what to make fail: a module's client, or one upstream step) for one action per view module and
# area, and the reads staff start by hand (a refresh, a renewal's plans).
ACTIONS = [
    ("inventory", "up-isp-modify", ISP, {"proxy_type": "socks"}, "integrations.unknownproxies.actions._client"),
    ("inventory", "up-resi-refresh", RESI, {}, "integrations.unknownproxies.actions._client"),
    ("inventory", "shop-renew", SHOP, {}, "integrations.proxyshop.actions._client"),
    ("portal", "up-isp-settings", ISP, {"proxy_type": "socks"}, "integrations.unknownproxies.actions._client"),
    ("inventory", "shop-credentials", SHOP, {}, "integrations.proxyshop.actions._client"),
    ("portal", "shop-rotation", SHOP, {"rotation_policy": "5"}, "integrations.proxyshop.actions._client"),
    ("inventory", "iproxy-connection-reboot", PHONE, {}, "integrations.iproxy.actions._send"),
    ("portal", "iproxy-access-change-ip", ACCESS, {}, "integrations.iproxy.actions._send"),
]
# Where what fails is a read (the refresh, the renewal's plan list): nothing was changed, so nothing is unknown.
READS = {"up-resi-refresh", "shop-renew"}


@pytest.mark.parametrize("error", PROVIDER_ERRORS, ids=lambda e: e.__name__)
@pytest.mark.parametrize(
    ("namespace", "name", "kind", "payload", "target"), ACTIONS, ids=[a[1] + "@" + a[0] for a in ACTIONS]
)
def test_it_turns_every_provider_error_into_a_message(
    cast, owner, alice, monkeypatch, error, namespace, name, kind, payload, target
):
    def fail(*args, **kwargs):
        raise error("the upstream said no", provider="test", operation="test")

    if target.endswith("._client"):  # the whole client fails: every upstream call the action makes
        monkeypatch.setattr(target, lambda resource: _Failing(fail))
    else:
        monkeypatch.setattr(target, fail)
    resource = cast.phone if kind == PHONE else cast.alice[kind]
    client = logged_in(alice if namespace == "portal" else owner)
    response = client.post(reverse(f"{namespace}:{name}", kwargs={"resource_id": resource.pk}), payload, follow=True)
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert len(shown) == 1 and shown[0], shown
    if error is errors.UnknownOutcomeError and name not in READS:
        assert AuditEvent.objects.filter(action__endswith="_unknown", target_id=str(resource.pk)).exists()


class _Failing:
    """A client whose every method raises the given error."""

    def __init__(self, fail):
        self._fail = fail

    def __getattr__(self, name):
        return self._fail


# 5. Staff pages around the inventory: audit log, alerts, customer timeline ----------------------------

STAFF_PAGES = url_patterns("staff")
OWNER_ONLY_PAGES = {"brand"}


def staff_page(name: str, kwargs: list[str], cast: Cast) -> str:
    values = {"customer_id": cast.alice[RESI].customer_id, "alert_id": cast.alert.pk, "item_id": cast.drift.pk}
    return reverse(f"staff:{name}", kwargs={key: values[key] for key in kwargs})


@pytest.fixture
def cast_with_history(cast, owner):
    """The cast after some audited actions, an alert and a drift item, so the audit, alert, drift and timeline
    pages have rows."""
    from inventory.models import Alert, DriftItem

    cast.alert = Alert.objects.create(
        kind="expiry",
        subject=f"resource:{cast.alice[SHOP].pk}",
        threshold="3d",
        cycle="c",
        message="alice's subscription expires soon",
        resource=cast.alice[SHOP],
        customer=cast.alice[SHOP].customer,
    )
    logged_in(owner).post(f"/staff/inventory/{cast.bob[SHOP].pk}/shop/rotate/", {"via": "link"})
    cast.drift = DriftItem.objects.create(
        resource=cast.alice[ISP],
        account=cast.alice[ISP].account,
        customer=cast.alice[ISP].customer,
        field_key="proxyType",
        field_label="Protocol",
        before="http",
        after="socks",
    )
    return cast


@pytest.mark.parametrize(("name", "kwargs"), STAFF_PAGES)
def test_it_sends_anonymous_visitors_from_every_staff_page_to_sign_in(cast_with_history, name, kwargs):
    address = staff_page(name, kwargs, cast_with_history)
    client = anonymous_client()
    for response in (client.get(address), client.post(address, {})):
        assert response.status_code == 302 and "/login" in response.url, address


@pytest.mark.parametrize(("name", "kwargs"), STAFF_PAGES)
def test_it_refuses_customers_every_staff_page(cast_with_history, sandbox, alice, name, kwargs):
    address = staff_page(name, kwargs, cast_with_history)
    client = logged_in(alice)
    assert client.get(address).status_code == 403, address
    assert client.post(address, {}).status_code == 403, address
    assert writes(sandbox) == []


def test_it_shows_no_secret_on_the_audit_alert_and_timeline_pages(cast_with_history, sandbox, owner, support):
    cast = cast_with_history
    secrets = _secrets(cast)
    for user in (owner, support):
        client = logged_in(user)
        for name, kwargs in STAFF_PAGES:
            address = staff_page(name, kwargs, cast)
            for query in ("", "?tab=changes"):
                response = client.get(address + query)
                if response.status_code == 405:  # a POST-only action
                    continue
                if name in OWNER_ONLY_PAGES and user == support:
                    assert response.status_code == 403, address
                    continue
                assert response.status_code == 200, address
                text = _page(response)
                for secret_name, secret in secrets.items():
                    assert secret not in text, (address, secret_name)
