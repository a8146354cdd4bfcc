"""A customer buys and renews in the portal through a real browser; the sandbox is served over real HTTP and
orders are fulfilled by a real Celery worker on Redis."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import expect

from billing import automatic
from billing.models import Order, OrderState, Product
from billing.services import balance_top_up, customer_balance
from tests.e2e.test_login_flow import sign_in
from tests.factories import ProviderAccountFactory
from tests.support.processes import start_celery_worker

# An order may take a few seconds: the worker, then the page's next poll (every 2 s).
SETTLES = 30_000


@pytest.fixture
def orders_worker(redis_url):
    with start_celery_worker(broker_url=redis_url, name="e2e-worker") as worker:
        yield worker


@pytest.fixture
def live_shop(live_sandbox):
    requests.post(f"{live_sandbox}/_sandbox/reset", json={"seed": 1}, timeout=5)
    account = ProviderAccountFactory(name="Live shop", kind="shop", base_url=f"{live_sandbox}/shop")
    return Product.objects.create(
        name="Amsterdam mobile, 30 days",
        kind="shop_plan",
        account=account,
        parameters={"plan_id": "nlams30private"},
        price_cents=1900,
        renewal_price_cents=1700,
    )


def test_a_customer_buys_a_mobile_proxy_and_sees_it_with_its_credentials(
    page, live_server, live_shop, orders_worker, alice
):
    balance_top_up(customer=alice.customer, amount_cents=5000, actor=None, note="test credit")
    sign_in(page, live_server, "alice")
    page.get_by_role("navigation").get_by_role("link", name="Shop").click()
    page.get_by_role("row").filter(has_text="Amsterdam mobile, 30 days").get_by_role("button", name="Buy").click()
    expect(page.get_by_role("status")).to_contain_text("Amsterdam mobile, 30 days")
    assert customer_balance(customer=alice.customer) == 3100
    expect(page.locator("#order-status .badge")).to_have_text("Fulfilled", timeout=SETTLES)
    page.get_by_role("navigation").get_by_role("link", name="My proxies").click()
    proxy = page.get_by_role("link", name="NL")
    expect(proxy.first).to_be_visible()
    proxy.first.click()
    expect(page.get_by_text("NL-AMS Amsterdam", exact=True)).to_be_visible()


def test_the_order_page_shows_processing_then_fulfilled_without_a_reload(
    page, live_server, live_sandbox, live_shop, orders_worker, alice
):
    # The shop takes 4 s to sell the plan: the page must show the wait, then the result, by itself.
    requests.post(
        f"{live_sandbox}/_sandbox/faults",
        json={"rules": [{"provider": "shop", "match": "POST purchase", "kind": "latency", "ms": 4000}]},
        timeout=5,
    )
    balance_top_up(customer=alice.customer, amount_cents=5000, actor=None, note="test credit")
    sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/portal/shop/")
    page.get_by_role("row").filter(has_text="Amsterdam mobile, 30 days").get_by_role("button", name="Buy").click()

    expect(page).to_have_url(re.compile(r"/portal/shop/orders/\d+/$"))
    loaded = page.evaluate("performance.timeOrigin")
    badge = page.locator("#order-status .badge")
    expect(badge).to_have_text("Processing")
    expect(badge).to_have_text("Fulfilled", timeout=SETTLES)
    expect(page.get_by_role("link", name=re.compile("NL"))).to_be_visible()
    assert page.evaluate("performance.timeOrigin") == loaded  # the same document: polled, not reloaded


def test_a_customer_turns_auto_renew_on_and_sees_the_renewal_after_the_clock_moves(
    page, live_server, live_sandbox, live_shop, orders_worker, alice
):
    balance_top_up(customer=alice.customer, amount_cents=5000, actor=None, note="test credit")
    sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/portal/shop/")
    page.get_by_role("row").filter(has_text="Amsterdam mobile, 30 days").get_by_role("button", name="Buy").click()
    expect(page.locator("#order-status .badge")).to_have_text("Fulfilled", timeout=SETTLES)
    bought = Order.objects.get(customer=alice.customer, kind="purchase")
    expires = bought.resource.expires_at

    page.locator("#order-status").get_by_role("link", name=re.compile("NL")).click()
    automatic_card = page.locator("#automatic")
    expect(automatic_card).to_contain_text("Auto-renew is off")
    page.get_by_role("button", name="Turn auto-renew on").click()
    expect(automatic_card).to_contain_text("Auto-renew is on")

    # 28 days pass at the shop and here; beat's auto-renew run at that moment renews it.
    days = 28
    requests.post(f"{live_sandbox}/_sandbox/clock", json={"advance_seconds": days * 86400}, timeout=5)
    counts = automatic.auto_renew_due(now=timezone.now() + dt.timedelta(days=days))
    assert counts["placed"] == 1

    page.get_by_role("navigation").get_by_role("link", name="Orders & balance").click()
    renewal = page.get_by_role("row").filter(has_text="Renewal: Amsterdam mobile, 30 days (auto-renew)")
    expect(renewal).to_be_visible()
    renewal.get_by_role("link").click()
    expect(page.locator("#order-status .badge")).to_have_text("Fulfilled", timeout=SETTLES)
    order = Order.objects.get(customer=alice.customer, kind="renewal")
    assert order.state == OrderState.FULFILLED
    assert order.resource.expires_at - expires == dt.timedelta(days=30)
    assert customer_balance(customer=alice.customer) == 5000 - 1900 - 1700
