"""Margin at risk: sold services whose next renewal would sell below a cost that changed, and its alert."""

from __future__ import annotations

import pytest

from billing import foresight, services
from inventory.models import Alert
from ops.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def sold(sandbox, funded, shop_product, alice):
    """One Amsterdam subscription sold from the shop product (renewal price 18.00; the plan costs 12.00)."""
    return services.order_place(customer=funded, product=shop_product, idempotency_key="buy", actor=alice).resource


def test_the_scheduled_refresh_reads_the_shops_price_and_audits_only_a_change(sold, shop_product, sandbox):
    assert foresight.product_costs_refresh() == 1
    shop_product.refresh_from_db()
    assert (shop_product.cost_cents, shop_product.renewal_cost_cents) == (1200, 1200)
    assert foresight.product_costs_refresh() == 0
    assert AuditEvent.objects.filter(action="billing.product.cost_from_upstream").count() == 1
    assert foresight.margins_at_risk() == []


def test_a_plan_dearer_upstream_puts_the_sold_renewals_at_risk(sold, shop_product, sandbox):
    foresight.product_costs_refresh()
    sandbox.control("plan-price", {"plan_id": "nlams30private", "price_cents": 2000})
    assert foresight.product_costs_refresh() == 1

    (risk,) = foresight.margins_at_risk()
    assert risk.product == shop_product and risk.resources == 1 and risk.auto_renewing == 0
    assert risk.loss_per_renewal_cents == 200


def test_a_cost_an_owner_enters_puts_the_sold_renewals_at_risk(sandbox, funded, resi_product, alice, owner):
    services.order_place(customer=funded, product=resi_product, idempotency_key="buy", actor=alice)
    assert foresight.margins_at_risk() == []

    services.product_update(product=resi_product, actor=owner, renewal_cost_cents=1500, confirm_below_cost=True)

    (risk,) = foresight.margins_at_risk()
    assert risk.product == resi_product and risk.resources == 1 and risk.loss_per_renewal_cents == 100


def test_a_product_below_cost_that_renews_nothing_sold_is_not_at_risk(sandbox, shop_product, owner):
    services.product_update(product=shop_product, actor=owner, renewal_cost_cents=5000, confirm_below_cost=True)
    assert foresight.margins_at_risk() == []


def test_margin_at_risk_alerts_staff_once_per_cost_change(sold, shop_product, sandbox, owner):
    sandbox.control("plan-price", {"plan_id": "nlams30private", "price_cents": 2000})

    (alert,) = foresight.foresight_check()
    assert alert.kind == Alert.Kind.MARGIN and alert.subject == f"product:{shop_product.pk}"
    assert alert.customer is None and alert.delivered_at is not None
    assert "Amsterdam private 30 days renews for 18.00 USD" in alert.message
    assert foresight.foresight_check() == []

    sandbox.control("plan-price", {"plan_id": "nlams30private", "price_cents": 2500})
    (again,) = foresight.foresight_check()
    assert again.kind == Alert.Kind.MARGIN and again.pk != alert.pk
    assert foresight.foresight_check() == []
