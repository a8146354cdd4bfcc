"""An owner finds a sold port whose phone's plan was shortened in the iProxy console and fixes it in one click;
the sandbox over real HTTP."""

from __future__ import annotations

import contextlib

import requests
from playwright.sync_api import expect

from billing import services
from billing.models import Product
from integrations.iproxy import actions as iproxy_actions
from integrations.iproxy.kinds import IPROXY, IPROXY_CONNECTION, IPROXY_PORT
from inventory.models import Resource
from inventory.sync import sync_account
from ops.models import AuditEvent
from providers import registry
from providers.registry import client_for_account
from tests.e2e.test_login_flow import sign_in
from tests.factories import ProviderAccountFactory


@contextlib.contextmanager
def _orders_in_this_process():
    """The order's task runs here (the real fulfilment over HTTP), so this journey needs no worker."""
    from config.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = previous


def test_an_owner_fixes_a_port_its_phone_no_longer_covers(page, live_server, live_sandbox, owner, customer_a):
    requests.post(f"{live_sandbox}/_sandbox/reset", json={"seed": 1}, timeout=5)
    try:
        account = ProviderAccountFactory(
            kind=IPROXY, name="Our phones", base_url=live_sandbox + registry.get(IPROXY).sandbox_path
        )
        assert sync_account(account=account).outcome == "ok"
        warsaw = Resource.objects.get(account=account, kind=IPROXY_CONNECTION, label="online with plan")
        iproxy_actions.phone_capacity_set(connection=warsaw, max_ports=3, actor=None)
        product = Product.objects.create(
            name="Warsaw port, 12 days",
            kind=IPROXY_PORT,
            account=account,
            parameters={"country": "pl", "city": "waw", "days": 12, "listen_service": "http"},
            price_cents=1200,
            renewal_price_cents=1000,
        )
        services.balance_top_up(customer=customer_a, amount_cents=5000, actor=owner, note="bank transfer")
        with _orders_in_this_process():
            order = services.order_place(customer=customer_a, product=product, idempotency_key="e2e", actor=None)
        port = order.resource
        # In the iProxy console: a dearer plan for the time left, so the phone's 20 days become 10.
        upstream = client_for_account(account)
        current = upstream.get_connection(warsaw.upstream_id).active_plan
        upstream.change_plan(warsaw.upstream_id, plan_id="pro30", active_plan=current)
        assert sync_account(account=account).outcome == "ok"

        sign_in(page, live_server, "owner")
        page.goto(f"{live_server.url}/staff/billing/alignment/")
        row = page.locator(f"tr[data-resource='{port.pk}']")
        expect(row).to_contain_text("Alice Analytics Ltd")
        expect(row).to_contain_text("2.0 days")
        row.get_by_role("button", name="Fix").click()

        expect(page.get_by_role("status")).to_contain_text("upstream now serves it through its paid period")
        expect(page.get_by_text("Upstream serves every sold service through its paid period.")).to_be_visible()
        event = AuditEvent.objects.get(action="iproxy.connection.prolongate")
        assert event.actor == owner and event.data["days"] == 30
        warsaw.refresh_from_db()
        assert warsaw.expires_at >= Resource.objects.get(pk=port.pk).paid_through
    finally:
        requests.post(f"{live_sandbox}/_sandbox/reset", json={"seed": 1}, timeout=5)
