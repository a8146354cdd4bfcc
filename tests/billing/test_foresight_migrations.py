"""The paid-through migration fills what is known for resources sold before the field existed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.support.migrations import latest, migrate_to

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("billing", "0008_ledger_append_function"), ("inventory", "0011_resource_paid_through")]
AFTER = [("billing", "0009_fill_paid_through")]


def test_sold_resources_are_paid_through_their_expiry_and_the_others_through_nothing():
    old = migrate_to(BEFORE)
    try:
        Customer = old.get_model("accounts", "Customer")
        Account = old.get_model("providers", "ProviderAccount")
        Product = old.get_model("billing", "Product")
        Order = old.get_model("billing", "Order")
        Resource = old.get_model("inventory", "Resource")
        alice = Customer.objects.create(name="Alice", contact_email="a@example.com")
        account = Account.objects.create(name="shop", kind="shop", base_url="http://sandbox.test/shop")
        product = Product.objects.create(
            name="p", kind="shop_plan", account=account, parameters={}, price_cents=300, renewal_price_cents=300
        )
        ends = timezone.now() + dt.timedelta(days=12)
        sold, _by_hand, failed = (
            Resource.objects.create(
                account=account, kind="shop_subscription", upstream_id=name, customer=alice, expires_at=ends
            )
            for name in ("sold", "by-hand", "failed")
        )
        for key, resource, state in (("a", sold, "fulfilled"), ("b", failed, "failed")):
            Order.objects.create(
                customer=alice, product=product, price_cents=300, idempotency_key=key, state=state, resource=resource
            )

        new = migrate_to(AFTER)

        Resource = new.get_model("inventory", "Resource")
        paid = dict(Resource.objects.values_list("upstream_id", "paid_through"))
        assert paid == {"sold": ends, "by-hand": None, "failed": None}
    finally:
        migrate_to(latest())
