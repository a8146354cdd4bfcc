"""Ways money or upstream resources could be lost or doubled: crashes mid-order, reused keys, races, stale mirrors."""

from __future__ import annotations

import datetime as dt
import threading
import types
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from billing import fulfilment, services, tasks
from billing.forms import AdjustmentForm, ProductForm, TopUpForm
from billing.models import LedgerEntry, Order, OrderState, Product
from integrations.proxyshop import client as proxyshop
from integrations.proxyshop.kinds import SHOP_PLAN
from integrations.proxyshop.mirror import shop_subscription_row
from integrations.unknownproxies import fulfilment as up_fulfilment
from inventory import sync
from inventory.assignment import resource_assign
from inventory.models import Resource, ResourceStatus
from ops.models import AuditEvent
from providers.registry import client_for_account

LOST_PURCHASE = {"provider": "shop", "match": "POST purchase", "kind": "lost_response"}
TIMED_OUT_RENEW = {"provider": "shop", "match": "POST renew", "kind": "timeout"}
LOST_RESI_RENEW = {"provider": "unknownproxies", "match": "PATCH /resi/token", "kind": "lost_response"}


def _kinds(customer):
    return sorted(LedgerEntry.objects.filter(customer=customer).values_list("kind", flat=True))


def _age(order, *, minutes):
    then = timezone.now() - dt.timedelta(minutes=minutes)
    Order.objects.filter(pk=order.pk).update(created_at=then, submitted_at=then if order.submitted_at else None)


def _upstream_posts(sandbox):
    return len(sandbox.calls("POST", "/api/proxy")) + len(sandbox.calls("POST", "/resi/token/create"))


# A worker that dies mid-order ------------------------------------------------------------------------


def test_it_fulfils_an_order_a_dead_worker_left_submitted(sandbox, funded, shop_product):
    sandbox.control("faults", {"rules": [LOST_PURCHASE]})
    order = services.order_place(customer=funded, product=shop_product, idempotency_key="k" * 16, actor=None)
    # As if the process died during the call: the answer never came and nothing moved it to unknown.
    Order.objects.filter(pk=order.pk).update(state=OrderState.SUBMITTED, error_code="", error="")
    order.refresh_from_db()

    _age(order, minutes=3)
    assert tasks.reconcile_unknown_orders()["fulfilled"] == 0  # may still be in flight
    _age(order, minutes=11)
    assert tasks.reconcile_unknown_orders() == {"fulfilled": 1, "failed": 0, "needs_decision": 0, "still_unknown": 0}

    order.refresh_from_db()
    assert order.state == OrderState.FULFILLED
    assert order.resource.customer == funded
    assert _kinds(funded) == ["purchase", "top_up"]


def test_it_refunds_an_order_a_dead_worker_left_submitted_before_sending(sandbox, funded, shop_product):
    with mock.patch.object(fulfilment, "submit", side_effect=SystemExit), pytest.raises(SystemExit):
        services.order_place(customer=funded, product=shop_product, idempotency_key="k" * 16, actor=None)
    order = Order.objects.get()
    assert order.state == OrderState.SUBMITTED
    assert services.customer_balance(customer=funded) == 3000

    _age(order, minutes=11)
    assert tasks.reconcile_unknown_orders() == {"fulfilled": 0, "failed": 1, "needs_decision": 0, "still_unknown": 0}

    assert services.customer_balance(customer=funded) == 5000
    assert Order.objects.get().error_code == "not_found_upstream"


def test_it_refunds_a_pending_order_never_sent_and_never_sends_it_after(sandbox, funded, shop_product):
    with mock.patch.object(fulfilment, "prepare", side_effect=SystemExit), pytest.raises(SystemExit):
        services.order_place(customer=funded, product=shop_product, idempotency_key="k" * 16, actor=None)
    order = Order.objects.get()
    assert order.state == OrderState.PENDING

    _age(order, minutes=11)
    assert tasks.reconcile_unknown_orders() == {"fulfilled": 0, "failed": 1, "needs_decision": 0, "still_unknown": 0}
    order.refresh_from_db()
    assert order.state == OrderState.FAILED
    assert order.error_code == "not_submitted"
    assert "Nothing was bought" in services.customer_message(order)
    assert services.customer_balance(customer=funded) == 5000

    # The slow worker wakes up: the refunded order must not be bought upstream any more.
    assert services._submit(order, None).state == OrderState.FAILED
    assert _upstream_posts(sandbox) == 0


def test_it_lets_staff_reconcile_a_stale_submitted_order(client, sandbox, support, funded, shop_product):
    sandbox.control("faults", {"rules": [LOST_PURCHASE]})
    order = services.order_place(customer=funded, product=shop_product, idempotency_key="k" * 16, actor=None)
    Order.objects.filter(pk=order.pk).update(state=OrderState.SUBMITTED)
    _age(order, minutes=11)
    client.force_login(support)

    client.post(f"/staff/billing/orders/{order.pk}/reconcile/")

    assert Order.objects.get(pk=order.pk).state == OrderState.FULFILLED


def test_it_mirrors_a_late_success_of_a_refunded_order_without_charging_again(sandbox, funded, shop_product):
    sandbox.control("faults", {"rules": [{"provider": "shop", "match": "POST purchase", "kind": "timeout"}]})
    order = services.order_place(customer=funded, product=shop_product, idempotency_key="k" * 16, actor=None)
    assert services.order_reconcile(order=order).state == OrderState.FAILED
    sandbox.control("faults", {"rules": []})
    # The answer of a call we had given up on arrives after all.
    bought = client_for_account(shop_product.account).purchase("nlams30private")
    rows = [shop_subscription_row(subscription, timezone.now()) for subscription in bought.subscriptions]

    settled = services._settle_fulfilled(order, rows, actor=None)

    assert settled.state == OrderState.FAILED
    assert Resource.objects.get(upstream_id=rows[0].upstream_id).customer is None  # visible to staff, unassigned
    assert AuditEvent.objects.filter(action="billing.order.late_success").count() == 1
    assert _kinds(funded) == ["purchase", "refund", "top_up"]


# Transactions ------------------------------------------------------------------------------------------


def test_it_refuses_to_place_an_order_inside_a_callers_transaction(sandbox, funded, shop_product):
    """The upstream call would run with the customer row locked and the charge not yet committed."""
    with pytest.raises(RuntimeError), transaction.atomic():
        services.order_place(customer=funded, product=shop_product, idempotency_key="k" * 16, actor=None)

    assert _upstream_posts(sandbox) == 0


def test_it_never_refunds_a_fulfilled_order(sandbox, funded, shop_product):
    order = services.order_place(customer=funded, product=shop_product, idempotency_key="k" * 16, actor=None)

    again = services._settle_failed(order, None, actor=None, reconciled=True, code="not_found_upstream")

    assert again.state == OrderState.FULFILLED
    assert _kinds(funded) == ["purchase", "top_up"]


def test_it_holds_the_money_when_a_purchase_answer_has_no_subscription(sandbox, funded, shop_product):
    empty = proxyshop.PurchaseResult(subscription_ids=(), subscriptions=(), raw={})
    with mock.patch.object(proxyshop.Client, "purchase", return_value=empty):
        order = services.order_place(customer=funded, product=shop_product, idempotency_key="k" * 16, actor=None)

    assert order.state == OrderState.UNKNOWN
    assert services.customer_balance(customer=funded) == 3000


# Idempotency -------------------------------------------------------------------------------------------


def test_it_refuses_a_key_reused_for_another_product(sandbox, funded, shop_product, resi_product):
    services.order_place(customer=funded, product=shop_product, idempotency_key="k" * 16, actor=None)

    with pytest.raises(services.IdempotencyKeyReused):
        services.order_place(customer=funded, product=resi_product, idempotency_key="k" * 16, actor=None)
    assert Order.objects.count() == 1


def test_it_refuses_a_purchase_key_reused_for_a_renewal(sandbox, funded, shop_product):
    bought = services.order_place(customer=funded, product=shop_product, idempotency_key="k" * 16, actor=None)

    with pytest.raises(services.IdempotencyKeyReused):
        services.order_renew(customer=funded, resource=bought.resource, idempotency_key="k" * 16, actor=None)
    assert _kinds(funded) == ["purchase", "top_up"]


@pytest.mark.django_db(transaction=True)
def test_it_buys_once_when_two_submits_race(sandbox, customer_a, owner, shop_product):
    """Real threads on PostgreSQL (make test); SQLite serialises whole writes, shown by the pages test."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    services.balance_top_up(customer=customer_a, amount_cents=5000, actor=owner)
    barrier = threading.Barrier(2)
    orders: list[int] = []

    def worker():
        barrier.wait()
        try:
            order = services.order_place(
                customer=customer_a, product=shop_product, idempotency_key="race" * 4, actor=None
            )
            orders.append(order.pk)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(orders) == 2
    assert len(set(orders)) == 1
    assert Order.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="purchase").count() == 1
    assert len(sandbox.calls("POST", "/api/proxy")) == 1
    assert services.customer_balance(customer=customer_a) == 3000


# Reconciliation claims ---------------------------------------------------------------------------------


def test_it_keeps_the_owner_when_a_lost_renewal_settles(sandbox, funded, customer_b, resi_product, owner):
    bought = services.order_place(customer=funded, product=resi_product, idempotency_key="b" * 16, actor=None)
    sandbox.control("faults", {"rules": [LOST_RESI_RENEW]})
    renewal = services.order_renew(customer=funded, resource=bought.resource, idempotency_key="r" * 16, actor=None)
    assert renewal.state == OrderState.UNKNOWN
    # Meanwhile staff gave the proxy to another customer.
    resource_assign(resource=bought.resource, customer=customer_b, actor=owner)

    settled = services.order_reconcile(order=renewal)

    assert settled.state == OrderState.FULFILLED
    assert Resource.objects.get(pk=bought.resource.pk).customer == customer_b


def test_it_does_not_take_a_found_subscription_another_customer_got_meanwhile(
    sandbox, funded, customer_b, shop_product, owner
):
    sandbox.control("faults", {"rules": [LOST_PURCHASE]})
    order = services.order_place(customer=funded, product=shop_product, idempotency_key="k" * 16, actor=None)
    rows = fulfilment.find(order)
    assert rows
    # A concurrent settlement gave the same subscription to someone else after our look upstream.
    sync.sync_account(account=shop_product.account)
    resource_assign(resource=Resource.objects.get(upstream_id=rows[0].upstream_id), customer=customer_b, actor=owner)

    with pytest.raises(services.BillingError, match="another customer"):
        services._settle_fulfilled(order, rows, actor=None, reconciled=True)

    assert Order.objects.get(pk=order.pk).state == OrderState.UNKNOWN
    assert Resource.objects.get(upstream_id=rows[0].upstream_id).customer == customer_b


# Renewals ----------------------------------------------------------------------------------------------


def test_it_refunds_a_lost_shop_renewal_that_never_happened_despite_a_stale_mirror(sandbox, funded, shop_product):
    bought = services.order_place(customer=funded, product=shop_product, idempotency_key="b" * 16, actor=None)
    # Our mirror is behind upstream (a sync has not run): it shows an earlier end than the shop's.
    Resource.objects.filter(pk=bought.resource.pk).update(expires_at=timezone.now() + dt.timedelta(days=1))
    sandbox.control("faults", {"rules": [TIMED_OUT_RENEW]})
    renewal = services.order_renew(
        customer=funded, resource=Resource.objects.get(pk=bought.resource.pk), idempotency_key="r" * 16, actor=None
    )
    assert renewal.state == OrderState.UNKNOWN

    settled = services.order_reconcile(order=renewal)

    assert settled.state == OrderState.FAILED
    assert services.customer_balance(customer=funded) == 3000


def test_it_refuses_to_renew_a_vanished_subscription_before_charging(sandbox, funded, shop_product):
    bought = services.order_place(customer=funded, product=shop_product, idempotency_key="b" * 16, actor=None)
    Resource.objects.filter(pk=bought.resource.pk).update(status=ResourceStatus.VANISHED)

    with pytest.raises(services.NotRenewable):
        services.order_renew(
            customer=funded, resource=Resource.objects.get(pk=bought.resource.pk), idempotency_key="r" * 16, actor=None
        )
    assert _kinds(funded) == ["purchase", "top_up"]


def test_it_renews_a_lapsed_subscription_from_now(sandbox, funded, shop_product):
    """README decision: `renew` works on an expired subscription; the new end is now + the plan's duration."""
    bought = services.order_place(customer=funded, product=shop_product, idempotency_key="b" * 16, actor=None)
    sandbox.control("clock", {"advance_seconds": 40 * 86400})  # the 30-day plan lapsed 10 days ago
    sync.sync_account(account=shop_product.account)
    lapsed = Resource.objects.get(pk=bought.resource.pk)
    assert lapsed.status == ResourceStatus.EXPIRED

    renewal = services.order_renew(customer=funded, resource=lapsed, idempotency_key="r" * 16, actor=None)

    assert renewal.state == OrderState.FULFILLED
    lapsed.refresh_from_db()
    now = dt.datetime.fromtimestamp(sandbox.control("clock", method="GET")["now"], tz=dt.UTC)
    assert lapsed.status == ResourceStatus.ACTIVE
    assert abs(lapsed.expires_at - (now + dt.timedelta(days=30))) < dt.timedelta(minutes=1)
    assert _kinds(funded) == ["purchase", "renewal", "top_up"]


def test_it_keeps_a_renewed_resi_limit_in_whole_gigabytes():
    token = types.SimpleNamespace(data_limit=1_500_000_000, duration_hours=0, created_at=timezone.now())

    request = up_fulfilment.resi_renewal_request(token, gb=5, hours=0, now=timezone.now())

    assert request["data_limit"] == 7_000_000_000
    assert request["data_limit"] % 1_000_000_000 == 0


# Prices ------------------------------------------------------------------------------------------------


def test_it_refuses_to_sell_a_product_without_a_price(sandbox, funded, shop_account, owner):
    free = Product.objects.create(
        name="Free",
        kind=SHOP_PLAN,
        account=shop_account,
        parameters={"plan_id": "nlams30private"},
        price_cents=0,
        renewal_price_cents=0,
    )
    with pytest.raises(services.NotForSale):
        services.order_place(customer=funded, product=free, idempotency_key="k" * 16, actor=None)
    assert not Order.objects.exists()
    assert _upstream_posts(sandbox) == 0

    with pytest.raises(services.BillingError, match="more than zero"):
        services.product_update(product=free, actor=owner, price_cents=0)


def test_it_charges_the_price_at_order_time_and_says_so(sandbox, funded, shop_product, owner):
    services.product_update(product=shop_product, actor=owner, price_cents=2500)

    order = services.order_place(customer=funded, product=shop_product, idempotency_key="k" * 16, actor=None)

    assert order.price_cents == 2500
    assert services.customer_balance(customer=funded) == 2500
    assert "25.00" in services.customer_message(order)


# Forms -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "greater than or equal to 0.01"),
        ("-5", "greater than or equal to 0.01"),
        ("1000000.01", "less than or equal to 1000000"),
        ("abc", "Enter a number"),
        ("NaN", "Enter a number"),
        ("1.234", "no more than 2 decimal places"),
    ],
)
def test_it_refuses_bad_top_up_amounts_clearly(amount, message):
    form = TopUpForm({"amount": amount})
    assert not form.is_valid()
    assert message in form.errors["amount"][0]


@pytest.mark.parametrize(
    ("amount", "message"),
    [("0", "cannot be zero"), ("-0.00", "cannot be zero"), ("-1000000.01", "greater than or equal"), ("x", "number")],
)
def test_it_refuses_bad_adjustments_clearly(amount, message):
    form = AdjustmentForm({"amount": amount, "note": "why"})
    assert not form.is_valid()
    assert message in form.errors["amount"][0]


def test_it_refuses_a_zero_product_price(db, shop_account):
    form = ProductForm(
        {
            "name": "x",
            "kind": SHOP_PLAN,
            "account": shop_account.pk,
            "plan_id": "nlams30private",
            "price": "0",
            "renewal_price": "0.00",
        }
    )
    assert not form.is_valid()
    assert set(form.errors) == {"price", "renewal_price"}
    assert Decimal("0.01") == form.fields["price"].min_value


@pytest.mark.parametrize(
    "path",
    [
        "/portal/shop/buy/{product}/",
        "/portal/shop/renew/{resource}/",
    ],
)
def test_it_rejects_a_get_on_portal_money_views(client, sandbox, alice, funded, shop_product, path):
    bought = services.order_place(customer=funded, product=shop_product, idempotency_key="b" * 16, actor=None)
    client.force_login(alice)

    response = client.get(path.format(product=shop_product.pk, resource=bought.resource.pk))

    assert response.status_code == 405
    assert Order.objects.count() == 1


@pytest.mark.parametrize("path", ["top-up", "adjust"])
def test_it_rejects_a_get_on_staff_money_views(client, owner, funded, path):
    client.force_login(owner)

    assert client.get(f"/staff/billing/customers/{funded.pk}/{path}/").status_code == 405
    assert client.get("/staff/billing/orders/1/reconcile/").status_code == 405


def test_it_checks_csrf_on_the_buy_button(sandbox, alice, funded, shop_product):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(alice)

    response = csrf_client.post(f"/portal/shop/buy/{shop_product.pk}/", {"idempotency_key": "k" * 16})

    assert response.status_code == 403
    assert not Order.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="billing.order").exists()
