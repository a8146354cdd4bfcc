"""Settling orders whose upstream answer was lost: found upstream -> fulfilled, not found -> refunded, once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from billing import services, tasks
from billing.models import LedgerEntry, Order, OrderState
from inventory import sync
from inventory.models import Resource
from ops.models import AuditEvent

LOST_PURCHASE = {"provider": "shop", "match": "POST purchase", "kind": "lost_response"}
TIMED_OUT_PURCHASE = {"provider": "shop", "match": "POST purchase", "kind": "timeout"}
LOST_RESI_CREATE = {"provider": "unknownproxies", "match": "POST /resi/token/create", "kind": "lost_response"}


def _unknown(sandbox, customer, product, rule, key="k"):
    sandbox.control("faults", {"rules": [rule]})
    order = services.order_place(customer=customer, product=product, idempotency_key=key, actor=None)
    assert order.state == OrderState.UNKNOWN
    return order


def _kinds(customer):
    return sorted(LedgerEntry.objects.filter(customer=customer).values_list("kind", flat=True))


def test_it_fulfils_a_lost_shop_purchase_exactly_once(sandbox, funded, shop_product):
    order = _unknown(sandbox, funded, shop_product, LOST_PURCHASE)

    settled = services.order_reconcile(order=order)
    again = services.order_reconcile(order=order)

    assert settled.state == again.state == OrderState.FULFILLED
    assert settled.reconciled_at is not None
    assert settled.resource.customer == funded
    assert Resource.objects.filter(customer=funded).count() == 1
    assert _kinds(funded) == ["purchase", "top_up"]
    assert services.customer_balance(customer=funded) == 3000
    assert AuditEvent.objects.filter(action="billing.order.reconciled_fulfilled").count() == 1


def test_it_fulfils_a_lost_shop_purchase_the_sync_mirrored_meanwhile(sandbox, funded, shop_product):
    order = _unknown(sandbox, funded, shop_product, LOST_PURCHASE)
    sync.sync_account(account=shop_product.account)  # mirrors the new subscription unassigned

    settled = services.order_reconcile(order=order)

    assert settled.state == OrderState.FULFILLED
    assert settled.resource.customer == funded


def test_it_refunds_a_purchase_that_never_happened(sandbox, funded, shop_product):
    order = _unknown(sandbox, funded, shop_product, TIMED_OUT_PURCHASE)

    settled = services.order_reconcile(order=order)

    assert settled.state == OrderState.FAILED
    assert settled.error_code == "not_found_upstream"
    assert _kinds(funded) == ["purchase", "refund", "top_up"]
    assert services.customer_balance(customer=funded) == 5000
    assert not Resource.objects.filter(customer=funded).exists()
    assert services.order_reconcile(order=order).state == OrderState.FAILED
    assert LedgerEntry.objects.filter(kind="refund").count() == 1


def test_it_does_not_give_one_subscription_to_two_orders(sandbox, funded, shop_product):
    first = _unknown(sandbox, funded, shop_product, LOST_PURCHASE, key="one")
    second = _unknown(sandbox, funded, shop_product, TIMED_OUT_PURCHASE, key="two")
    # The second was sent well after the first one's subscription began: that one cannot be its.
    Order.objects.filter(pk=second.pk).update(submitted_at=timezone.now() + dt.timedelta(minutes=10))

    assert services.order_reconcile(order=first).state == OrderState.FULFILLED
    assert services.order_reconcile(order=second).state == OrderState.FAILED
    assert services.customer_balance(customer=funded) == 3000


def test_it_hands_two_orders_it_cannot_tell_apart_to_staff_with_the_money_held(sandbox, funded, shop_product):
    first = _unknown(sandbox, funded, shop_product, LOST_PURCHASE, key="one")
    second = _unknown(sandbox, funded, shop_product, TIMED_OUT_PURCHASE, key="two")

    one = services.order_reconcile(order=first)
    two = services.order_reconcile(order=second)

    # Either could have bought the one new subscription: neither gets it, both hold their money.
    assert one.state == two.state == OrderState.NEEDS_DECISION
    assert [found["upstream_id"] for found in one.evidence["found"]] == [
        found["upstream_id"] for found in two.evidence["found"]
    ]
    assert str(second.pk) in one.evidence["why"]
    assert services.customer_balance(customer=funded) == 1000
    assert not Resource.objects.filter(customer=funded).exists()
    assert tasks.reconcile_unknown_orders()["fulfilled"] == 0


def test_it_finds_a_lost_resi_token_by_the_username_it_sent(sandbox, funded, resi_product):
    order = _unknown(sandbox, funded, resi_product, LOST_RESI_CREATE)
    assert len(order.request["username"]) == 8

    settled = services.order_reconcile(order=order)

    assert settled.state == OrderState.FULFILLED
    assert settled.resource.label == order.request["username"]
    assert settled.resource.customer == funded
    assert services.customer_balance(customer=funded) == 3500


def test_it_settles_a_lost_renewal(sandbox, funded, resi_product):
    bought = services.order_place(customer=funded, product=resi_product, idempotency_key="buy", actor=None)
    sandbox.control(
        "faults", {"rules": [{"provider": "unknownproxies", "match": "PATCH /resi/token", "kind": "lost_response"}]}
    )
    renewal = services.order_renew(customer=funded, resource=bought.resource, idempotency_key="renew", actor=None)
    assert renewal.state == OrderState.UNKNOWN
    with pytest.raises(services.NotRenewable, match="already being processed"):
        services.order_renew(customer=funded, resource=bought.resource, idempotency_key="renew-2", actor=None)

    settled = services.order_reconcile(order=renewal)

    assert settled.state == OrderState.FULFILLED
    bought.resource.refresh_from_db()
    assert bought.resource.data_limit_bytes == 10_000_000_000


def test_it_reconciles_from_the_periodic_task_after_a_minute(sandbox, funded, shop_product):
    order = _unknown(sandbox, funded, shop_product, LOST_PURCHASE)

    assert tasks.reconcile_unknown_orders() == {"fulfilled": 0, "failed": 0, "needs_decision": 0, "still_unknown": 0}
    Order.objects.filter(pk=order.pk).update(submitted_at=timezone.now() - dt.timedelta(minutes=2))
    assert tasks.reconcile_unknown_orders() == {"fulfilled": 1, "failed": 0, "needs_decision": 0, "still_unknown": 0}
    assert tasks.reconcile_unknown_orders() == {"fulfilled": 0, "failed": 0, "needs_decision": 0, "still_unknown": 0}


def test_it_leaves_an_order_unknown_while_upstream_cannot_be_read(sandbox, funded, shop_product):
    order = _unknown(sandbox, funded, shop_product, LOST_PURCHASE)
    Order.objects.filter(pk=order.pk).update(submitted_at=timezone.now() - dt.timedelta(minutes=2))
    sandbox.control("faults", {"rules": [{"provider": "shop", "match": "GET", "kind": "status", "status": 401}]})

    assert tasks.reconcile_unknown_orders() == {"fulfilled": 0, "failed": 0, "needs_decision": 0, "still_unknown": 1}
    assert Order.objects.get(pk=order.pk).state == OrderState.UNKNOWN
    assert services.customer_balance(customer=funded) == 3000


def test_the_task_counts_only_what_it_settled_itself(sandbox, funded, shop_product, monkeypatch):
    order = _unknown(sandbox, funded, shop_product, LOST_PURCHASE)
    Order.objects.filter(pk=order.pk).update(submitted_at=timezone.now() - dt.timedelta(minutes=2))
    counted = services.order_reconcile_counted

    def a_concurrent_run_is_first(*, order, actor=None):
        services.order_reconcile(order=order)  # another worker's run settles it between the query and us
        return counted(order=order, actor=actor)

    monkeypatch.setattr(services, "order_reconcile_counted", a_concurrent_run_is_first)

    assert tasks.reconcile_unknown_orders() == {"fulfilled": 0, "failed": 0, "needs_decision": 0, "still_unknown": 0}
    assert Order.objects.get(pk=order.pk).state == OrderState.FULFILLED
