"""The whole money loop in one browser journey: a customer tops up through the payment twin, buys a port on
one of our iProxy phones, turns auto-renew on, and sees the renewal once the clock has moved. The sandbox is
served over real HTTP and orders are fulfilled by a real Celery worker on Redis."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import expect

from billing import automatic
from billing.models import Order, OrderState, Product
from billing.services import customer_balance
from integrations.iproxy import actions as iproxy_actions
from integrations.iproxy.kinds import IPROXY, IPROXY_CONNECTION, IPROXY_PORT
from inventory.models import Resource
from inventory.sync import sync_account
from providers import registry
from providers.registry import client_for_account
from tests.e2e.test_login_flow import sign_in
from tests.factories import ProviderAccountFactory
from tests.support.processes import start_celery_worker

# An order may take a few seconds: the worker, then the page's next poll (every 2 s).
SETTLES = 30_000
PORT_DAYS = 7


@pytest.fixture
def orders_worker(redis_url):
    with start_celery_worker(broker_url=redis_url, name="e2e-money-worker") as worker:
        yield worker


@pytest.fixture
def our_phones(live_sandbox):
    """Our iProxy account on the served sandbox, synced; the Warsaw phone (plan 20 days left) sells 3 ports."""
    requests.post(f"{live_sandbox}/_sandbox/reset", json={"seed": 1}, timeout=5)
    account = ProviderAccountFactory(
        kind=IPROXY, name="Our phones", base_url=live_sandbox + registry.get(IPROXY).sandbox_path
    )
    assert sync_account(account=account).outcome == "ok"
    warsaw = Resource.objects.get(account=account, kind=IPROXY_CONNECTION, label="online with plan")
    iproxy_actions.phone_capacity_set(connection=warsaw, max_ports=3, actor=None)
    Product.objects.create(
        name=f"Warsaw mobile port, {PORT_DAYS} days",
        kind=IPROXY_PORT,
        account=account,
        parameters={"country": "pl", "city": "waw", "days": PORT_DAYS, "listen_service": "http"},
        price_cents=1200,
        renewal_price_cents=1000,
    )
    return account


@pytest.fixture
def online_payments(live_server, live_sandbox, settings):
    # As an operator would in Stripe's dashboard: a webhook endpoint pointing at us, and its secret.
    endpoint = requests.post(
        f"{live_sandbox}/stripe/v1/webhook_endpoints",
        data={"url": f"{live_server.url}/payments/webhook/stripe/", "enabled_events[]": "*"},
        headers={"Authorization": "Bearer sk_test_e2e"},
        timeout=5,
    ).json()
    settings.STRIPE_SECRET_KEY = "sk_test_e2e"
    settings.STRIPE_WEBHOOK_SECRET = endpoint["secret"]
    settings.STRIPE_API_BASE = f"{live_sandbox}/stripe"


def test_a_customer_tops_up_buys_a_port_turns_auto_renew_on_and_sees_it_renewed(
    page, live_server, live_sandbox, our_phones, online_payments, orders_worker, alice, output_path
):
    sign_in(page, live_server, "alice")

    # Money comes in online: the balance is credited by the twin's signed webhook.
    page.get_by_role("navigation").get_by_role("link", name="Shop").click()
    page.get_by_role("link", name="Top up").click()
    page.get_by_label("Amount").fill("30.00")
    page.get_by_role("button", name="Continue to payment").click()
    page.get_by_role("button", name="Pay 30.00 USD").click()
    expect(page.get_by_role("status")).to_contain_text("30.00 USD was added to your balance.")
    assert customer_balance(customer=alice.customer) == 3000

    # A port on one of our phones, bought from that balance and fulfilled by the worker.
    page.get_by_role("navigation").get_by_role("link", name="Shop").click()
    row = page.get_by_role("row").filter(has_text=f"Warsaw mobile port, {PORT_DAYS} days")
    row.get_by_role("button", name="Buy").click()
    expect(page).to_have_url(re.compile(r"/portal/shop/orders/\d+/$"))
    expect(page.locator("#order-status .badge")).to_have_text("Fulfilled", timeout=SETTLES)
    bought = Order.objects.get(customer=alice.customer, kind="purchase")
    access = bought.resource
    first_expiry = access.expires_at
    upstream = client_for_account(our_phones)
    there = next(a for a in upstream.list_proxy_accesses(access.parent.upstream_id) if a.id == access.upstream_id)
    assert customer_balance(customer=alice.customer) == 1800

    # Its page shows the credentials iProxy made, and the auto-renew switch.
    page.goto(f"{live_server.url}/portal/proxies/{access.pk}/")
    expect(page.get_by_text(there.auth.login).first).to_be_visible()
    automatic_card = page.locator("#automatic")
    expect(automatic_card).to_contain_text("Auto-renew is off")
    page.get_by_role("button", name="Turn auto-renew on").click()
    expect(automatic_card).to_contain_text("Auto-renew is on")

    # Five days pass upstream and here (two days left, inside AUTO_RENEW_DAYS_BEFORE): beat's run renews it.
    days = PORT_DAYS - 2
    requests.post(f"{live_sandbox}/_sandbox/clock", json={"advance_seconds": days * 86400}, timeout=5)
    counts = automatic.auto_renew_due(now=timezone.now() + dt.timedelta(days=days))
    assert counts["placed"] == 1

    page.get_by_role("navigation").get_by_role("link", name="Orders & balance").click()
    renewal = page.get_by_role("row").filter(has_text="(auto-renew)")
    expect(renewal).to_be_visible()
    renewal.get_by_role("link").first.click()
    expect(page.locator("#order-status .badge")).to_have_text("Fulfilled", timeout=SETTLES)
    page.screenshot(path=f"{output_path}/auto-renewed-port.png", full_page=True)
    order = Order.objects.get(customer=alice.customer, kind="renewal")
    assert order.state == OrderState.FULFILLED and order.resource_id == access.pk
    access.refresh_from_db()
    assert access.expires_at - first_expiry == dt.timedelta(days=PORT_DAYS)
    assert customer_balance(customer=alice.customer) == 3000 - 1200 - 1000
