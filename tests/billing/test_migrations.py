"""The ledger and claims migrations backfill existing rows: running balances, numbers, past purchases' claims."""

from __future__ import annotations

import pytest

from tests.support.migrations import latest, migrate_to

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("billing", "0004_product_costs_order_margins_coupons"), ("inventory", "0005_alert_out_of_stock")]
AFTER = [("billing", "0006_order_claims_lanes_and_automatic_orders")]


def test_it_backfills_running_balances_and_claims_of_past_purchases():
    old = migrate_to(BEFORE)
    try:
        Customer = old.get_model("accounts", "Customer")
        Account = old.get_model("providers", "ProviderAccount")
        Product = old.get_model("billing", "Product")
        Order = old.get_model("billing", "Order")
        Entry = old.get_model("billing", "LedgerEntry")
        Resource = old.get_model("inventory", "Resource")
        alice = Customer.objects.create(name="Alice", contact_email="a@example.com")
        bob = Customer.objects.create(name="Bob", contact_email="b@example.com")
        account = Account.objects.create(name="shop", kind="shop", base_url="http://sandbox.test/shop")
        product = Product.objects.create(
            name="p", kind="shop_plan", account=account, parameters={}, price_cents=300, renewal_price_cents=300
        )
        sub = Resource.objects.create(account=account, kind="shop_subscription", upstream_id="sub1", customer=alice)
        order = Order.objects.create(
            customer=alice,
            product=product,
            price_cents=300,
            idempotency_key="old-order",
            state="fulfilled",
            resource=sub,
            upstream_ref="sub1",
        )
        for customer, amount, kind, linked in (
            (alice, 1000, "top_up", None),
            (bob, 700, "top_up", None),
            (alice, -300, "purchase", order),
            (alice, 50, "adjustment", None),
        ):
            Entry.objects.create(customer=customer, amount_cents=amount, kind=kind, order=linked)

        new = migrate_to(AFTER)

        Entry = new.get_model("billing", "LedgerEntry")
        chain = list(
            Entry.objects.filter(customer_id=alice.pk)
            .order_by("sequence")
            .values_list("sequence", "balance_after_cents")
        )
        assert chain == [(1, 1000), (2, 700), (3, 750)]
        assert list(Entry.objects.filter(customer_id=bob.pk).values_list("sequence", "balance_after_cents")) == [
            (1, 700)
        ]
        Claim = new.get_model("billing", "ResourceClaim")
        assert list(Claim.objects.values_list("order_id", "resource_id")) == [(order.pk, sub.pk)]
    finally:
        migrate_to(latest())
