"""Placing and renewing orders against the sandbox: charged once, fulfilled, or failed and refunded."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.models import Customer
from billing import services
from billing.models import IllegalTransition, LedgerEntry, Order, OrderState
from integrations.proxyshop.kinds import SHOP_SUBSCRIPTION
from integrations.unknownproxies.fulfilment import resi_renewal_request
from integrations.unknownproxies.kinds import RESI_TOKEN
from inventory.models import Resource
from ops.models import AuditEvent
from providers.models import ProviderAccount
from providers.registry import client_for_account


def _ledger_kinds(customer):
    return sorted(LedgerEntry.objects.filter(customer=customer).values_list("kind", flat=True))


def test_it_buys_a_shop_plan_end_to_end(sandbox, funded, shop_product, alice):
    order = services.order_place(customer=funded, product=shop_product, idempotency_key="buy-1", actor=alice)

    assert order.state == OrderState.FULFILLED
    assert services.customer_balance(customer=funded) == 3000  # our price, not the shop's 1200
    resource = order.resource
    assert resource.kind == SHOP_SUBSCRIPTION
    assert resource.customer == funded
    assert resource.account == shop_product.account
    assert order.upstream_ref == resource.upstream_id
    assert resource.expires_at > order.created_at + dt.timedelta(days=29)
    actions = set(AuditEvent.objects.filter(customer=funded).values_list("action", flat=True))
    assert {"billing.ledger.purchase", "billing.order.purchase", "billing.order.fulfilled", "inventory.assign"} <= (
        actions
    )
    assert len(sandbox.calls("POST", "/api/proxy")) == 1


def test_it_buys_residential_traffic_end_to_end(sandbox, funded, resi_product, alice):
    order = services.order_place(customer=funded, product=resi_product, idempotency_key="buy-1", actor=alice)

    assert order.state == OrderState.FULFILLED
    assert services.customer_balance(customer=funded) == 3500
    resource = order.resource
    assert resource.kind == RESI_TOKEN
    assert resource.customer == funded
    assert resource.data_limit_bytes == 5_000_000_000
    assert resource.label == order.request["username"]
    assert len(order.request["username"]) == 8
    assert resource.upstream["durationHours"] == 720
    # The username we generated was sent, so reconciliation could find the token by it.
    create = sandbox.calls("POST", "/resi/token/create")[0]
    assert order.request["username"] in create.request.body.decode()


def test_it_gives_back_the_same_order_for_the_same_key(sandbox, funded, shop_product, alice):
    first = services.order_place(customer=funded, product=shop_product, idempotency_key="same", actor=alice)
    second = services.order_place(customer=funded, product=shop_product, idempotency_key="same", actor=alice)

    assert second.pk == first.pk
    assert Order.objects.count() == 1
    assert _ledger_kinds(funded) == ["purchase", "top_up"]
    assert len(sandbox.calls("POST", "/api/proxy")) == 1


def test_it_refuses_a_key_of_another_customers_order(sandbox, funded, customer_b, owner, shop_product):
    services.order_place(customer=funded, product=shop_product, idempotency_key="mine", actor=None)
    services.balance_top_up(customer=customer_b, amount_cents=5000, actor=owner)
    with pytest.raises(services.IdempotencyKeyReused):
        services.order_place(customer=customer_b, product=shop_product, idempotency_key="mine", actor=None)
    assert services.customer_balance(customer=customer_b) == 5000


def test_it_refuses_an_order_it_cannot_pay_for(sandbox, customer_a, owner, shop_product):
    services.balance_top_up(customer=customer_a, amount_cents=1999, actor=owner)
    with pytest.raises(services.InsufficientFunds):
        services.order_place(customer=customer_a, product=shop_product, idempotency_key="k", actor=None)
    assert not Order.objects.exists()
    assert services.customer_balance(customer=customer_a) == 1999
    assert not sandbox.calls("POST")


def test_it_refuses_a_suspended_customer(sandbox, funded, shop_product):
    Customer.objects.filter(pk=funded.pk).update(status=Customer.Status.SUSPENDED)
    with pytest.raises(services.CustomerSuspended):
        services.order_place(customer=funded, product=shop_product, idempotency_key="k", actor=None)
    assert not Order.objects.exists()
    assert services.customer_balance(customer=funded) == 5000
    assert not sandbox.calls("POST")


def test_it_refuses_a_product_no_longer_on_sale(sandbox, funded, shop_product):
    shop_product.active = False
    shop_product.save()
    with pytest.raises(services.NotForSale):
        services.order_place(customer=funded, product=shop_product, idempotency_key="k", actor=None)


def test_it_refunds_a_sold_out_plan(sandbox, funded, sold_out_product):
    order = services.order_place(customer=funded, product=sold_out_product, idempotency_key="k", actor=None)

    assert order.state == OrderState.FAILED
    assert order.error_code == "sold_out"
    assert "sold out" in services.customer_message(order)
    assert services.customer_balance(customer=funded) == 5000
    assert _ledger_kinds(funded) == ["purchase", "refund", "top_up"]
    assert not Resource.objects.filter(customer=funded).exists()
    assert AuditEvent.objects.filter(action="billing.order.failed", target_id=str(order.pk)).exists()


def test_it_refunds_and_tells_staff_when_our_upstream_balance_is_short(sandbox, funded, shop_product):
    sandbox.control("balance", {"provider": "shop", "amount_cents": 0})

    order = services.order_place(customer=funded, product=shop_product, idempotency_key="k", actor=None)

    assert order.state == OrderState.FAILED
    assert order.error_code == "upstream_balance"
    assert "balance at Shop sandbox is too low" in order.error
    assert "Top up the provider account" in order.error
    assert ProviderAccount.objects.get(pk=shop_product.account_id).last_error == order.error
    assert services.customer_balance(customer=funded) == 5000
    assert "our team has been told" in services.customer_message(order)


def test_it_holds_the_money_when_the_answer_is_lost(sandbox, funded, shop_product):
    sandbox.control("faults", {"rules": [{"provider": "shop", "match": "POST purchase", "kind": "lost_response"}]})

    order = services.order_place(customer=funded, product=shop_product, idempotency_key="k", actor=None)

    assert order.state == OrderState.UNKNOWN
    assert services.customer_balance(customer=funded) == 3000
    assert _ledger_kinds(funded) == ["purchase", "top_up"]
    assert "your money is held, not lost" in services.customer_message(order)
    assert order.resource is None


def _bought(funded, product):
    order = services.order_place(customer=funded, product=product, idempotency_key="buy", actor=None)
    assert order.state == OrderState.FULFILLED
    return order.resource


def test_it_renews_a_shop_subscription(sandbox, funded, shop_product, alice):
    resource = _bought(funded, shop_product)
    before = resource.expires_at

    order = services.order_renew(customer=funded, resource=resource, idempotency_key="renew", actor=alice)

    assert order.state == OrderState.FULFILLED
    assert order.resource == resource
    resource.refresh_from_db()
    assert resource.expires_at - before == dt.timedelta(days=30)
    assert services.customer_balance(customer=funded) == 5000 - 2000 - 1800
    assert _ledger_kinds(funded) == ["purchase", "renewal", "top_up"]


def test_it_renews_residential_traffic(sandbox, funded, resi_product):
    resource = _bought(funded, resi_product)

    order = services.order_renew(customer=funded, resource=resource, idempotency_key="renew", actor=None)

    assert order.state == OrderState.FULFILLED
    resource.refresh_from_db()
    assert resource.data_limit_bytes == 10_000_000_000
    # 720 h from createdAt, extended by the product's 720 h.
    assert resource.upstream["durationHours"] == 1440
    assert services.customer_balance(customer=funded) == 5000 - 1500 - 1400


def test_it_extends_an_expired_resi_token_from_now(sandbox, funded, resi_product):
    resource = _bought(funded, resi_product)
    current = client_for_account(resource.account).get_resi_token(resource.upstream_id)
    later = current.created_at + dt.timedelta(hours=1000)
    request = resi_renewal_request(current, gb=5, hours=720, now=later)
    assert request["duration_hours"] == 1000 + 720
    assert request["data_limit"] == 10_000_000_000


def test_it_refuses_to_renew_what_was_not_bought_here_or_is_not_yours(
    sandbox, funded, customer_b, resi_product, shop_account
):
    resource = _bought(funded, resi_product)
    with pytest.raises(services.NotRenewable):
        services.order_renew(customer=customer_b, resource=resource, idempotency_key="x", actor=None)
    # A shop subscription staff assigned was not bought here: no product renews it (more GB for any
    # residential token, staff-assigned too, is tested in test_top_ups.py).
    stranger = Resource.objects.create(
        account=shop_account, kind=SHOP_SUBSCRIPTION, upstream_id="other123", customer=funded
    )
    with pytest.raises(services.NotRenewable):
        services.order_renew(customer=funded, resource=stranger, idempotency_key="y", actor=None)


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (OrderState.PENDING, OrderState.FULFILLED),
        (OrderState.PENDING, OrderState.UNKNOWN),
        (OrderState.SUBMITTED, OrderState.PENDING),
        (OrderState.FULFILLED, OrderState.FAILED),
        (OrderState.FAILED, OrderState.FULFILLED),
        (OrderState.UNKNOWN, OrderState.SUBMITTED),
    ],
)
def test_it_refuses_illegal_state_transitions(funded, shop_product, start, target):
    order = Order.objects.create(customer=funded, product=shop_product, price_cents=0, idempotency_key="k", state=start)
    with pytest.raises(IllegalTransition):
        order.transition(target)
    assert order.state == start


def test_it_allows_the_documented_transitions(funded, shop_product):
    order = Order.objects.create(customer=funded, product=shop_product, price_cents=0, idempotency_key="k")
    for state in (OrderState.SUBMITTED, OrderState.UNKNOWN, OrderState.FULFILLED):
        order.transition(state)
    assert order.state == OrderState.FULFILLED
