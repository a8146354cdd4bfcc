"""The staff queue of orders that need a decision: what was found, settle with one resource, or refund."""

from __future__ import annotations

import pytest

from billing import services
from billing.models import LedgerEntry, Order, OrderState, ResourceClaim
from inventory.models import Resource
from ops.models import AuditEvent

LOST_PURCHASE = {"provider": "shop", "match": "POST purchase", "kind": "lost_response"}
TIMED_OUT_PURCHASE = {"provider": "shop", "match": "POST purchase", "kind": "timeout"}


@pytest.fixture
def undecided(sandbox, funded, shop_product):
    """Two unknown orders of one plan and one new subscription either could have bought."""
    orders = []
    for key, rule in (("one" * 6, LOST_PURCHASE), ("two" * 6, TIMED_OUT_PURCHASE)):
        sandbox.control("faults", {"rules": [rule]})
        orders.append(services.order_place(customer=funded, product=shop_product, idempotency_key=key, actor=None))
    settled = [services.order_reconcile(order=order) for order in orders]
    assert {order.state for order in settled} == {OrderState.NEEDS_DECISION}
    return settled


def test_staff_see_the_queue_with_what_was_found(client, support, undecided):
    client.force_login(support)

    page = client.get("/staff/billing/decisions/").content.decode()

    found = undecided[0].evidence["found"][0]
    assert f"Order {undecided[0].pk}" in page and f"Order {undecided[1].pk}" in page
    assert f"Settle with {found['upstream_id']}" in page
    assert "Needs a decision (2)" in client.get("/staff/billing/").content.decode()


def test_staff_settle_one_order_with_the_resource_and_refund_the_other(client, support, funded, undecided):
    client.force_login(support)
    first, second = undecided
    resource = Resource.objects.get(pk=first.evidence["found"][0]["resource"])

    client.post(f"/staff/billing/decisions/{first.pk}/settle/", {"resource": resource.pk})
    # The same resource cannot settle the second order too.
    client.post(f"/staff/billing/decisions/{second.pk}/settle/", {"resource": resource.pk})
    assert Order.objects.get(pk=second.pk).state == OrderState.NEEDS_DECISION
    client.post(f"/staff/billing/decisions/{second.pk}/refund/", {"note": "the timeout never reached the shop"})

    assert Order.objects.get(pk=first.pk).state == OrderState.FULFILLED
    assert Order.objects.get(pk=second.pk).state == OrderState.FAILED
    assert ResourceClaim.objects.get().order_id == first.pk
    assert Resource.objects.get(pk=resource.pk).customer == funded
    assert services.customer_balance(customer=funded) == 3000
    assert LedgerEntry.objects.filter(kind="refund").count() == 1
    settle = AuditEvent.objects.get(action="billing.order.decided_settle")
    assert settle.actor == support
    refund = AuditEvent.objects.get(action="billing.order.decided_refund")
    assert refund.data["note"] == "the timeout never reached the shop"


def test_customers_cannot_decide(client, alice, undecided):
    client.force_login(alice)

    assert client.get("/staff/billing/decisions/").status_code in (302, 403)
    client.post(f"/staff/billing/decisions/{undecided[0].pk}/refund/")
    assert Order.objects.get(pk=undecided[0].pk).state == OrderState.NEEDS_DECISION


def test_the_customer_is_told_the_money_is_held(client, alice, undecided):
    client.force_login(alice)

    page = client.get(f"/portal/shop/orders/{undecided[0].pk}/").content.decode()

    assert "your money is held, not lost" in page
    assert "hx-trigger" not in page
