"""Browser journeys: staff tick rows and assign them in bulk, watching each row's result; a customer
downloads their proxies in every export format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from config.celery import app
from integrations.iproxy.kinds import IPROXY, IPROXY_CONNECTION
from integrations.proxyshop.kinds import SHOP_SUBSCRIPTION
from inventory.models import Resource
from tests.e2e.test_login_flow import sign_in
from tests.factories import CustomerFactory, ProviderAccountFactory, ResourceFactory

SHOP_UPSTREAM = {
    "subscriptionId": "subE2E",
    "status": "active",
    "label": "12001 - NL - Private",
    "networkLabel": "NL-AMS Amsterdam",
    "credentials": {"username": "u_e2e", "password": "p_e2e"},
    "protocols": {
        "http": "http://u_e2e:p_e2e@proxy.sandbox.test:12001",
        "socks5": "socks5://u_e2e:p_e2e@proxy.sandbox.test:12001",
    },
}


@pytest.fixture
def eager_celery(monkeypatch):
    # The live server runs in this process: the bulk task runs when its request commits.
    monkeypatch.setitem(app.conf, "task_always_eager", True)


def test_staff_assign_ticked_rows_in_bulk_and_see_each_rows_result(page, live_server, support, eager_celery):
    buyer = CustomerFactory(name="Bulk Buyer Ltd", contact_email="bulk@example.com")
    tokens = [ResourceFactory(label=f"bulktok{n}") for n in range(3)]
    phone = ResourceFactory(
        label="bulkphone", kind=IPROXY_CONNECTION, account=ProviderAccountFactory(kind=IPROXY), upstream={}
    )
    sign_in(page, live_server, "support")
    page.goto(f"{live_server.url}/staff/inventory/?q=bulk")
    for label in ("bulktok0", "bulktok2", "bulkphone"):
        page.get_by_label(f"Select {label}").check()
    page.get_by_label("Action").select_option("assign")
    page.get_by_label("Customer", exact=True).fill("bulk@example.com")
    page.get_by_role("button", name="Run").click()

    expect(page.get_by_role("heading", name="Assign to a customer → Bulk Buyer Ltd")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Finished: 3 of 3 rows done")
    expect(page.get_by_role("progressbar", name="Rows done")).to_have_attribute("value", "3")
    expect(page.get_by_role("row").filter(has_text="bulktok0")).to_contain_text("assigned to Bulk Buyer Ltd")
    expect(page.get_by_role("row").filter(has_text="bulkphone")).to_contain_text("stays with staff")
    page.get_by_role("link", name="Failed only").click()
    expect(page.get_by_role("row").filter(has_text="bulktok0")).to_have_count(0)
    expect(page.get_by_role("row").filter(has_text="bulkphone")).to_be_visible()

    assigned = set(Resource.objects.filter(customer=buyer).values_list("label", flat=True))
    assert assigned == {"bulktok0", "bulktok2"}
    assert Resource.objects.get(pk=tokens[1].pk).customer is None
    assert Resource.objects.get(pk=phone.pk).customer is None


EXPECTED = {
    "host:port:user:pass": ["resi.unknownproxies.com:8080:alicee2e:bkXBberMQ7", "proxy.sandbox.test:12001:u_e2e:p_e2e"],
    "user:pass@host:port": ["alicee2e:bkXBberMQ7@resi.unknownproxies.com:8080", "u_e2e:p_e2e@proxy.sandbox.test:12001"],
    "http://user:pass@host:port": [
        "http://alicee2e:bkXBberMQ7@resi.unknownproxies.com:8080",
        "http://u_e2e:p_e2e@proxy.sandbox.test:12001",
    ],
    "socks5://user:pass@host:port": ["socks5://u_e2e:p_e2e@proxy.sandbox.test:12001"],
}


def test_a_customer_exports_their_proxies_in_every_format(page, live_server, alice, tmp_path: Path):
    ResourceFactory(customer=alice.customer, label="alicee2e")
    ResourceFactory(customer=alice.customer, label="NL e2e", kind=SHOP_SUBSCRIPTION, upstream=SHOP_UPSTREAM)
    sign_in(page, live_server, "alice")
    files = {}
    for name in [*EXPECTED, "CSV", "JSON"]:
        with page.expect_download() as download:
            page.get_by_role("link", name=f"Export {name}", exact=True).click()
        files[name] = tmp_path / download.value.suggested_filename
        download.value.save_as(files[name])
    for name, lines in EXPECTED.items():
        assert sorted(files[name].read_text().splitlines()) == sorted(lines), name
    assert "proxy.sandbox.test:12001:u_e2e:p_e2e" in files["CSV"].read_text()
    items = json.loads(files["JSON"].read_text())
    assert sorted((item["host"], item["port"], item["username"]) for item in items) == [
        ("proxy.sandbox.test", 12001, "u_e2e"),
        ("resi.unknownproxies.com", 8080, "alicee2e"),
    ]
