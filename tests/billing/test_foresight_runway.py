"""The upstream balance runway: the costs ahead of each provider account against its balance, and its alert."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from billing import foresight, services
from billing.models import AutoRenewal
from integrations.iproxy import actions as iproxy_actions
from integrations.iproxy.kinds import IPROXY, IPROXY_ACCESS, IPROXY_CONNECTION
from inventory.assignment import resource_assign
from inventory.models import Alert, Resource
from providers.registry import UpcomingCost
from tests.support.accounts import synced_account

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def account(sandbox):
    return synced_account(IPROXY, name="iProxy sandbox")


def _phone(account, label: str) -> Resource:
    return Resource.objects.get(account=account, kind=IPROXY_CONNECTION, label=label)


@pytest.fixture
def phones(account, customer_a):
    """Warsaw (basic30, 20 days left, priced 15.00) and New York (pro30, 5 days left, priced 30.00), each
    carrying a port sold to customer A; the third phone carries nothing and costs nothing ahead."""
    warsaw, new_york = _phone(account, "online with plan"), _phone(account, "offline with plan")
    iproxy_actions.phone_capacity_set(connection=warsaw, max_ports=5, plan_price_cents=1500, actor=None)
    iproxy_actions.phone_capacity_set(connection=new_york, max_ports=5, plan_price_cents=3000, actor=None)
    for phone in (warsaw, new_york):
        port = Resource.objects.filter(kind=IPROXY_ACCESS, parent=phone).order_by("pk").first()
        resource_assign(resource=port, customer=customer_a, actor=None)
    return warsaw, new_york


def test_the_runway_is_the_whole_days_until_the_first_cost_the_balance_cannot_pay():
    now = timezone.now()
    costs = [
        UpcomingCost(due_at=now + 4 * DAY, cents=700, what="b"),
        UpcomingCost(due_at=now + 1 * DAY, cents=500, what="a"),
        UpcomingCost(due_at=now + 6 * DAY, cents=None, what="price not known: not counted"),
        UpcomingCost(due_at=now + 9 * DAY + dt.timedelta(hours=5), cents=900, what="c"),
    ]
    assert foresight.runway_from(costs=costs, balance_cents=1500, now=now) == (now + 9 * DAY + dt.timedelta(hours=5), 9)
    assert foresight.runway_from(costs=costs, balance_cents=2100, now=now) == (None, None)
    assert foresight.runway_from(costs=costs, balance_cents=400, now=now) == (now + DAY, 1)
    assert foresight.runway_from(costs=costs, balance_cents=None, now=now) == (None, None)


def test_an_iproxy_account_counts_the_plans_of_phones_carrying_sold_ports(account, phones, sandbox):
    warsaw, new_york = phones
    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 4000})
    foresight._balances_refresh()
    account.refresh_from_db()
    now = warsaw.expires_at - 20 * DAY

    runway = foresight.account_runway(account, now=now)

    # New York's plan on day 5 (30.00), Warsaw's on day 20 (15.00): 45.00 is more than 40.00.
    assert [(cost.resource, cost.cents) for cost in runway.costs] == [(new_york, 3000), (warsaw, 1500)]
    assert runway.balance_cents == 4000 and runway.total_cents == 4500
    assert runway.runs_out_at == warsaw.expires_at
    assert runway.days == 20 and runway.summary == "runway: 20 days"

    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 4500})
    foresight._balances_refresh()
    account.refresh_from_db()
    assert foresight.account_runway(account, now=now).summary == "covers the next 30 days"


def test_a_plan_due_twice_in_the_window_is_counted_twice_and_an_unknown_price_is_listed_apart(
    account, phones, settings
):
    warsaw, new_york = phones
    settings.FORESIGHT_DAYS = 40
    iproxy_actions.phone_capacity_set(connection=warsaw, max_ports=5, plan_price_cents=None, actor=None)
    now = warsaw.expires_at - 20 * DAY

    runway = foresight.account_runway(account, now=now)

    lines = [(cost.resource, cost.cents) for cost in runway.costs]
    assert lines == [(new_york, 3000), (warsaw, None), (new_york, 3000)]
    assert runway.costs[2].due_at == new_york.expires_at + 30 * DAY
    assert runway.unknown == 1 and runway.total_cents == 6000


def test_auto_renewals_count_at_the_renewal_cost_where_a_renewal_spends_the_balance(
    sandbox, funded, shop_product, account, phones, alice
):
    shop_product.renewal_cost_cents = 1200
    shop_product.save()
    order = services.order_place(customer=funded, product=shop_product, idempotency_key="shop-1", actor=alice)
    subscription = order.resource
    AutoRenewal.objects.create(resource=subscription, enabled=True)
    # A port's auto-renewal costs iProxy nothing: its phone's plan (already counted) does.
    warsaw_port = Resource.objects.filter(kind=IPROXY_ACCESS, parent=phones[0], customer=funded).get()
    AutoRenewal.objects.create(resource=warsaw_port, enabled=True)

    shop = foresight.account_runway(shop_product.account)
    (cost,) = shop.costs
    assert cost.resource == subscription and cost.cents == 1200
    assert cost.due_at == subscription.expires_at - dt.timedelta(days=3)
    assert shop.summary == "12.00 USD due in the next 30 days (balance not known)"
    iproxy_costs = foresight.account_runway(account).costs
    assert all(cost.resource.kind == IPROXY_CONNECTION for cost in iproxy_costs)


def test_a_short_runway_alerts_staff_once_per_cycle_and_again_in_the_next(account, phones, sandbox, settings, owner):
    warsaw, _ = phones
    settings.RUNWAY_ALERT_DAYS = 25
    now = warsaw.expires_at - 20 * DAY
    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 4000})

    (alert,) = foresight.foresight_check(now=now)
    assert alert.kind == Alert.Kind.RUNWAY and alert.account == account and alert.customer is None
    assert "runway: 20 days" in alert.message
    assert alert.delivered_at is not None and mail.outbox[-1].to == [owner.email]
    assert "Balance runs out soon: iProxy sandbox" in mail.outbox[-1].subject
    assert foresight.foresight_check(now=now + dt.timedelta(hours=1)) == []

    # Topped up: covered, nothing to say. Spent down: it now runs out at New York's plan, a new cycle.
    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 10000})
    assert foresight.foresight_check(now=now) == []
    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 1000})
    (again,) = foresight.foresight_check(now=now)
    assert again.kind == Alert.Kind.RUNWAY and again.pk != alert.pk and "runway: 5 days" in again.message
    assert Alert.objects.filter(kind=Alert.Kind.RUNWAY).count() == 2


def test_a_check_of_the_account_keeps_the_balance_it_read(account, sandbox, owner):
    from providers import services as provider_services

    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 1234})
    assert provider_services.provider_account_check(account=account, actor=owner).ok
    account.refresh_from_db()
    assert account.balance_cents == 1234 and account.balance_read_at is not None


def test_the_demo_prices_each_sandbox_phones_plan_from_the_sandbox_catalog(account):
    from providers import registry

    registry.get(IPROXY).demo_prepare(account)
    registry.get(IPROXY).demo_prepare(account)  # idempotent
    assert iproxy_actions.phone_plan_price(_phone(account, "online with plan")) == 1500  # basic30
    assert iproxy_actions.phone_plan_price(_phone(account, "offline with plan")) == 3000  # pro30
    assert iproxy_actions.phone_plan_price(_phone(account, "new phone, no data")) is None
