"""A fourth upstream, defined here in test code only, is picked up by sync, staff pages, the portal and the sandbox.

Nothing in the core changes for it: it registers an Integration (client, sandbox twin, mirror mapping,
credentials), and the core finds it through `providers.registry`.
"""

from __future__ import annotations

import datetime as dt
import importlib
import random

import pytest
from django.urls import clear_url_caches, path, reverse
from werkzeug.wrappers import Request, Response

from inventory.mirror import Row
from inventory.models import Resource, ResourceStatus
from inventory.sync import sync_account
from providers import registry
from providers.http.base import BaseClient
from providers.registry import CheckResult, Credential, Endpoint, ResourceKind
from providers.sandbox import SandboxApp
from providers.sandbox.core import ProviderSim, json_response
from providers.sandbox.testing import SANDBOX_TEST_URL, sandbox_behind_responses
from tests.factories import ProviderAccountFactory

TINY = "tinyproxy"
TINY_PORT = "tiny_port"


class TinyClient(BaseClient):
    provider = TINY

    def __init__(self, base_url: str, key: str, **options) -> None:
        super().__init__(base_url, **options)
        self.key = key

    def _prepare(self, headers: dict[str, str]) -> None:
        headers["X-Key"] = self.key

    def ports(self) -> list[dict]:
        return self._request("GET", "ports", operation="ports")["ports"]


class TinySim(ProviderSim):
    name = TINY
    prefixes = ("/tiny",)

    def reset(self, rng: random.Random, options: dict) -> None:
        self.ports = [
            {"id": "p1", "host": "tiny.example", "port": 7001, "login": "u1", "password": "s3cret", "days": 3},
            {"id": "p2", "host": "tiny.example", "port": 7002, "login": "u2", "password": "hunter2", "days": 30},
        ]

    def handle(self, request: Request, prefix: str, subpath: str) -> Response:
        if request.headers.get("X-Key") != "tiny-key":
            return self.error_response(401, "bad key")
        if subpath == "/ports" and request.method == "GET":
            return json_response({"ports": self.ports})
        return self.error_response(404, "no such endpoint")


def tiny_panel(request, resource_id: int):
    from django.http import HttpResponse

    return HttpResponse(f"tiny panel for {resource_id}")


class Tiny(registry.Integration):
    kind = TINY
    label = "Tiny Proxy Co"
    resource_kinds = (ResourceKind(TINY_PORT, "Tiny port"),)
    sandbox_path = "/tiny"

    def client(self, account, **options):
        return TinyClient(account.base_url, account.secret, **options)

    def check(self, client):
        return CheckResult(f"Connected: {len(client.ports())} ports.")

    def read(self, client, now: dt.datetime) -> list[Row]:
        return [
            Row(
                kind=TINY_PORT,
                upstream_id=port["id"],
                label=f"{port['host']}:{port['port']}",
                status=ResourceStatus.ACTIVE,
                expires_at=now + dt.timedelta(days=port["days"]),
                upstream=port,
            )
            for port in client.ports()
        ]

    def credentials(self, resource) -> list[Credential]:
        return [Credential("Login", resource.upstream["login"]), Credential("Password", "…", secret=True)]

    def endpoints(self, resource) -> list[Endpoint]:
        data = resource.upstream
        return [Endpoint(data["host"], data["port"], data["login"], data["password"])]

    def staff_urlpatterns(self) -> list:
        return [path("<int:resource_id>/tiny/panel/", tiny_panel, name="tiny-panel")]

    def simulator(self):
        return TinySim


@pytest.fixture
def tiny(settings):
    registry.register(Tiny())
    # URL maps are composed once at import: build a fresh one that includes the new integration.
    import config.urls

    clear_url_caches()
    importlib.reload(config.urls)
    try:
        yield
    finally:
        registry.unregister(TINY)
        clear_url_caches()
        importlib.reload(config.urls)


@pytest.fixture
def tiny_account(db, tiny):
    return ProviderAccountFactory(kind=TINY, base_url=SANDBOX_TEST_URL + "/tiny", username="", secret="tiny-key")


@pytest.fixture
def tiny_sandbox(tiny):
    with sandbox_behind_responses(SandboxApp(seed=1)) as installed:
        yield installed


def test_it_serves_the_fourth_provider_from_the_sandbox(tiny_sandbox):
    client = TinyClient(tiny_sandbox.base_url(TINY), "tiny-key")
    assert [port["id"] for port in client.ports()] == ["p1", "p2"]


def test_it_checks_a_fourth_provider_account(tiny_account, tiny_sandbox):
    from providers import services

    result = services.provider_account_check(account=tiny_account)
    assert result.ok, result.message
    assert result.message == "Connected: 2 ports."


def test_it_syncs_the_fourth_provider_into_the_mirror(tiny_account, tiny_sandbox):
    run = sync_account(account=tiny_account)
    assert run.outcome == "ok", run.error
    assert (run.seen, run.created) == (2, 2)
    ports = {r.upstream_id: r for r in Resource.objects.filter(account=tiny_account)}
    assert set(ports) == {"p1", "p2"}
    assert ports["p1"].kind == TINY_PORT
    assert ports["p1"].get_kind_display() == "Tiny port"
    assert ports["p1"].label == "tiny.example:7001"

    tiny_sandbox.app.provider(TINY).ports.pop()
    run = sync_account(account=tiny_account)
    assert run.vanished == 1
    assert Resource.objects.get(account=tiny_account, upstream_id="p2").status == ResourceStatus.VANISHED


def test_staff_see_the_fourth_provider_in_the_list_and_detail(client, owner, tiny_account, tiny_sandbox):
    sync_account(account=tiny_account)
    port = Resource.objects.get(account=tiny_account, upstream_id="p1")
    client.force_login(owner)

    listing = client.get(reverse("inventory:resource-list"), {"kind": TINY_PORT})
    assert listing.status_code == 200
    assert "tiny.example:7001" in listing.content.decode()
    assert "tiny.example:7002" in listing.content.decode()

    detail = client.get(reverse("inventory:resource-detail", args=[port.pk]))
    assert detail.status_code == 200
    body = detail.content.decode()
    assert "Tiny port" in body and "u1" in body

    # The integration's own staff URLs are mounted in the staff inventory namespace.
    panel = client.get(reverse("inventory:tiny-panel", args=[port.pk]))
    assert panel.content.decode() == f"tiny panel for {port.pk}"


def test_a_customer_sees_and_exports_a_fourth_provider_proxy(client, alice, tiny_account, tiny_sandbox):
    sync_account(account=tiny_account)
    port = Resource.objects.get(account=tiny_account, upstream_id="p1")
    Resource.objects.filter(pk=port.pk).update(customer=alice.customer)
    client.force_login(alice)

    home = client.get(reverse("portal:home"))
    assert "tiny.example:7001" in home.content.decode()
    assert "tiny.example:7002" not in home.content.decode()  # not hers

    detail = client.get(reverse("portal:proxy-detail", args=[port.pk]))
    assert detail.status_code == 200
    assert "u1" in detail.content.decode()

    export = client.get(reverse("portal:proxy-export", args=["txt"]))
    assert b"".join(export.streaming_content if export.streaming else [export.content]).decode() == (
        "tiny.example:7001:u1:s3cret\n"
    )


def test_the_provider_form_offers_the_fourth_kind(client, owner, tiny):
    client.force_login(owner)
    page = client.get(reverse("providers:account-create"), {"kind": TINY})
    assert page.status_code == 200
    assert 'value="tinyproxy"' in page.content.decode()
