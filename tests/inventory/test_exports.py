"""Exports: every format from the integrations' endpoints, the same for every kind, streamed; staff export a
selection. The demo data comes from the sandbox through a real sync."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from integrations.iproxy.kinds import IPROXY, IPROXY_ACCESS
from integrations.proxyshop.kinds import PROXY_SHOP, SHOP_SUBSCRIPTION
from integrations.unknownproxies.kinds import ISP_TOKEN, RESI_TOKEN, UNKNOWN_PROXIES
from inventory import assignment, presenters
from inventory.models import Resource, ResourceStatus
from inventory.sync import sync_account
from providers.registry import Endpoint
from tests.factories import ProviderAccountFactory, ResourceFactory

FORMATS = ["txt", "at", "http", "socks5", "csv", "json"]


@pytest.fixture
def alices_proxies(sandbox, alice):
    """Alice holds a residential token, an ISP token, a shop subscription and an iProxy access."""
    for kind in (UNKNOWN_PROXIES, PROXY_SHOP, IPROXY):
        assert sync_account(account=ProviderAccountFactory(kind=kind)).outcome == "ok"
    held = {
        RESI_TOKEN: Resource.objects.get(kind=RESI_TOKEN, upstream_id="resiActive01"),
        ISP_TOKEN: Resource.objects.get(kind=ISP_TOKEN, upstream_id="ispActive001"),
        SHOP_SUBSCRIPTION: Resource.objects.get(kind=SHOP_SUBSCRIPTION, upstream_id="subnlrotating"),
        IPROXY_ACCESS: Resource.objects.filter(kind=IPROXY_ACCESS, upstream__description="main http proxy").first(),
    }
    for resource in held.values():
        assignment.resource_assign(resource=resource, customer=alice.customer, actor=None)
    return held


def streamed(response) -> str:
    assert response.streaming, "exports are streamed"
    return b"".join(response.streaming_content).decode()


def test_a_shop_subscription_exports_as_host_port_user_pass_not_a_url(client, alice, alices_proxies):
    """Regression: "Export host:port:user:pass" gave the subscription's http:// URL."""
    shop = alices_proxies[SHOP_SUBSCRIPTION].upstream
    client.force_login(alice)
    lines = streamed(client.get("/portal/proxies/export.txt")).splitlines()
    user, password = shop["credentials"]["username"], shop["credentials"]["password"]
    assert f"proxy.sandbox.test:12001:{user}:{password}" in lines
    assert not [line for line in lines if "://" in line or "@" in line]
    assert all(re.fullmatch(r"[^:\s]+:\d+(:[^:\s]+:[^:\s]+)?", line) for line in lines), lines


def test_every_kind_gives_structured_endpoints(alices_proxies):
    for resource in alices_proxies.values():
        endpoints = presenters.endpoints(resource)
        assert endpoints, resource.kind
        for endpoint in endpoints:
            assert isinstance(endpoint, Endpoint)
            assert endpoint.host and isinstance(endpoint.port, int)
            assert set(endpoint.schemes) <= {"http", "socks5"}
    shop = presenters.endpoints(alices_proxies[SHOP_SUBSCRIPTION])
    assert shop[0].schemes == ("http", "socks5")


@pytest.mark.parametrize("export_format", FORMATS)
def test_a_customer_exports_every_format_of_their_own_live_proxies(client, alice, bob, alices_proxies, export_format):
    ResourceFactory(customer=bob.customer, label="bobsecret")
    gone = ResourceFactory(customer=alice.customer, label="gonetok", status=ResourceStatus.VANISHED)
    client.force_login(alice)
    response = client.get(f"/portal/proxies/export.{export_format}")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="proxies-')
    body = streamed(response)
    assert "bobsecret" not in body and gone.upstream["password"] not in body
    resi = presenters.endpoints(alices_proxies[RESI_TOKEN])[0]
    if export_format == "txt":
        assert f"{resi.host}:{resi.port}:{resi.user}:{resi.password}" in body.splitlines()
    elif export_format == "at":
        assert f"{resi.user}:{resi.password}@{resi.host}:{resi.port}" in body.splitlines()
    elif export_format == "http":
        lines = body.splitlines()
        assert f"http://{resi.user}:{resi.password}@{resi.host}:{resi.port}" in lines
        assert all(line.startswith("http://") for line in lines)
    elif export_format == "socks5":
        lines = body.splitlines()
        shop = presenters.endpoints(alices_proxies[SHOP_SUBSCRIPTION])[0]
        assert f"socks5://{shop.user}:{shop.password}@{shop.host}:{shop.port}" in lines
        assert all(line.startswith("socks5://") for line in lines)
        assert not [line for line in lines if resi.host in line]  # the residential gateway speaks HTTP only
    elif export_format == "csv":
        rows = list(csv.DictReader(io.StringIO(body)))
        assert {row["id"] for row in rows} == {str(r.pk) for r in alices_proxies.values()}
        gateway = next(row for row in rows if row["id"] == str(alices_proxies[RESI_TOKEN].pk))
        assert (gateway["host"], gateway["port"], gateway["username"]) == (resi.host, str(resi.port), resi.user)
    else:
        items = json.loads(body)
        assert {item["id"] for item in items} == {r.pk for r in alices_proxies.values()}
        first = next(item for item in items if item["id"] == alices_proxies[RESI_TOKEN].pk)
        assert first["host"] == resi.host and first["port"] == resi.port and first["protocols"] == ["http"]


def test_an_unknown_format_is_not_found(client, alice):
    client.force_login(alice)
    assert client.get("/portal/proxies/export.xlsx").status_code == 404


def test_an_empty_export_is_still_valid(client, alice):
    client.force_login(alice)
    assert json.loads(streamed(client.get("/portal/proxies/export.json"))) == []
    assert streamed(client.get("/portal/proxies/export.txt")) == ""


def test_url_formats_percent_encode_the_sign_in():
    endpoint = Endpoint("h.example", 1080, "us:er", "p@ss/word", ("socks5",))
    assert presenters.url_line(endpoint, "socks5") == "socks5://us%3Aer:p%40ss%2Fword@h.example:1080"
    assert presenters.colon_line(Endpoint("h.example", 80)) == "h.example:80"
    assert presenters.at_line(Endpoint("h.example", 80)) == "h.example:80"


def test_the_portal_offers_every_format(client, alice, alices_proxies):
    client.force_login(alice)
    page = client.get("/portal/").content.decode()
    for export_format in FORMATS:
        assert f"/portal/proxies/export.{export_format}" in page
