"""Billing fixtures: sandbox provider accounts, one product of each kind, and money on customer A's balance."""

from __future__ import annotations

import pytest

from billing import services
from billing.models import Product
from integrations.proxyshop.kinds import PROXY_SHOP, SHOP_PLAN
from integrations.unknownproxies.kinds import RESI_GB, UNKNOWN_PROXIES
from tests.factories import ProviderAccountFactory


@pytest.fixture(autouse=True)
def _orders_run_eagerly(celery_eager):
    """Every billing test sees an order settled when it is placed (the task runs in the caller)."""


@pytest.fixture
def shop_account(db):
    return ProviderAccountFactory(kind=PROXY_SHOP, name="Shop sandbox")


@pytest.fixture
def resi_account(db):
    return ProviderAccountFactory(kind=UNKNOWN_PROXIES, name="Unknown Proxies sandbox")


@pytest.fixture
def shop_product(shop_account):
    return Product.objects.create(
        name="Amsterdam private 30 days",
        kind=SHOP_PLAN,
        account=shop_account,
        parameters={"plan_id": "nlams30private"},
        price_cents=2000,
        renewal_price_cents=1800,
    )


@pytest.fixture
def sold_out_product(shop_account):
    return Product.objects.create(
        name="New York private 30 days",
        kind=SHOP_PLAN,
        account=shop_account,
        parameters={"plan_id": "usnyc30private"},
        price_cents=3500,
        renewal_price_cents=3500,
    )


@pytest.fixture
def resi_product(resi_account):
    return Product.objects.create(
        name="5 GB residential, 30 days",
        kind=RESI_GB,
        account=resi_account,
        parameters={"gb": 5, "duration_hours": 720},
        price_cents=1500,
        renewal_price_cents=1400,
    )


@pytest.fixture
def funded(customer_a, owner):
    """Customer A with 50.00 on its balance."""
    services.balance_top_up(customer=customer_a, amount_cents=5000, actor=owner, note="bank transfer")
    return customer_a
