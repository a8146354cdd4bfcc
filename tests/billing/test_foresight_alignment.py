"""Expiry alignment: what the customer paid through against when upstream stops serving it, and the fix."""

from __future__ import annotations

import datetime as dt

import pytest

from billing import foresight, services
from billing.models import Product
from integrations.iproxy import actions as iproxy_actions
from integrations.iproxy.kinds import IPROXY, IPROXY_CONNECTION, IPROXY_PORT
from inventory.models import Alert, Resource
from inventory.sync import sync_account
from ops.models import AuditEvent
from providers.registry import client_for_account
from tests.support.accounts import synced_account

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def account(sandbox):
    return synced_account(IPROXY, name="iProxy sandbox")


@pytest.fixture
def warsaw(account):
    """Online, plan basic30 (15.00) with 20 days left, two accesses open already."""
    phone = Resource.objects.get(account=account, kind=IPROXY_CONNECTION, label="online with plan")
    iproxy_actions.phone_capacity_set(connection=phone, max_ports=5, actor=None)
    return phone


@pytest.fixture
def port_product(account):
    return Product.objects.create(
        name="Warsaw port, 6 days",
        kind=IPROXY_PORT,
        account=account,
        parameters={"country": "pl", "city": "waw", "days": 6, "listen_service": "http"},
        price_cents=1000,
        renewal_price_cents=900,
    )


def _change_plan(account, phone: Resource, plan_id: str) -> None:
    """What the iProxy console does: a dearer plan for the time left, which shortens it."""
    upstream = client_for_account(account)
    current = upstream.get_connection(phone.upstream_id).active_plan
    upstream.change_plan(phone.upstream_id, plan_id=plan_id, active_plan=current)
    assert sync_account(account=account).outcome == "ok"


@pytest.fixture
def port(funded, alice, warsaw, port_product):
    """A port bought for 6 days and renewed once: paid through 12 days from now, on a phone paid for 20."""
    order = services.order_place(customer=funded, product=port_product, idempotency_key="buy", actor=alice)
    services.order_renew(customer=funded, resource=order.resource, idempotency_key="renew", actor=alice)
    return Resource.objects.get(pk=order.resource_id)


def test_an_order_records_what_the_customer_paid_through(funded, alice, warsaw, port_product):
    order = services.order_place(customer=funded, product=port_product, idempotency_key="buy", actor=alice)
    access = Resource.objects.get(pk=order.resource_id)
    assert access.paid_through == access.expires_at
    assert abs(access.paid_through - (order.created_at + 6 * DAY)) < dt.timedelta(minutes=1)

    services.order_renew(customer=funded, resource=access, idempotency_key="renew", actor=alice)
    access.refresh_from_db()
    assert access.paid_through == access.expires_at
    assert abs(access.paid_through - (order.created_at + 12 * DAY)) < dt.timedelta(minutes=1)


def test_a_port_on_a_phone_whose_plan_covers_its_paid_period_is_aligned(port):
    assert foresight.misalignments() == []


def test_a_port_is_misaligned_once_its_phones_plan_is_shortened_upstream(account, warsaw, port):
    _change_plan(account, warsaw, "pro30")  # 20 days of a 15.00 plan are 10 days of a 30.00 one
    warsaw.refresh_from_db()

    (item,) = foresight.misalignments()
    assert item.resource == port and item.refusal == ""
    assert item.paid_through == port.paid_through and item.serving_until == warsaw.expires_at
    assert item.gap_days == pytest.approx(2, abs=0.1)


def test_the_fix_prolongs_the_phones_plan_through_the_paid_period(account, warsaw, port, owner, sandbox):
    _change_plan(account, warsaw, "pro30")
    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 10000})

    foresight.resource_align(resource=port, actor=owner)

    warsaw.refresh_from_db()
    assert warsaw.expires_at >= port.paid_through
    assert foresight.misalignments() == []
    (prolonged,) = AuditEvent.objects.filter(action="iproxy.connection.prolongate")
    assert prolonged.actor == owner and prolonged.data["days"] == 30
    # One 30-day period of the 30.00 plan, from our iProxy balance.
    assert client_for_account(account).me().balance_cents == 7000


def test_a_misaligned_port_alerts_staff_once_per_cycle_and_again_in_the_next(account, warsaw, port, owner):
    _change_plan(account, warsaw, "pro30")

    (alert,) = foresight.foresight_check()
    assert alert.kind == Alert.Kind.MISALIGNED and alert.resource == port and alert.customer is None
    assert "paid through" in alert.message and "Fix it from the list" in alert.message
    assert foresight.foresight_check() == []

    _change_plan(account, warsaw, "max30")  # shorter still: a new cycle
    (again,) = foresight.foresight_check()
    assert again.kind == Alert.Kind.MISALIGNED and again.pk != alert.pk
    assert foresight.foresight_check() == []


def test_a_resource_assigned_by_hand_has_no_paid_period_to_compare(account, warsaw, customer_a):
    from inventory.assignment import resource_assign

    access = warsaw.children.order_by("pk").first()
    resource_assign(resource=access, customer=customer_a, actor=None)
    _change_plan(account, warsaw, "max30")
    assert Resource.objects.get(pk=access.pk).paid_through is None
    assert foresight.misalignments() == []


def test_a_gap_of_a_rounded_second_is_no_gap(port):
    Resource.objects.filter(pk=port.pk).update(paid_through=port.expires_at + dt.timedelta(seconds=30))
    assert foresight.misalignments() == []


def test_beat_runs_the_foresight_check(account, warsaw, port, settings):
    from billing import tasks

    assert settings.CELERY_BEAT_SCHEDULE["check-foresight"]["task"] == "billing.check_foresight"
    _change_plan(account, warsaw, "pro30")
    assert tasks.check_foresight() == 1
    assert tasks.check_foresight() == 0


def test_a_port_whose_phone_has_lapsed_is_listed_with_why_one_click_cannot_fix_it(account, warsaw, port, sandbox):
    # Upstream's clock runs 21 days on (ours does not): Warsaw's plan has ended while the port is paid for 12.
    sandbox.control("clock", {"advance_seconds": 21 * 86400})
    assert sync_account(account=account).outcome == "ok"

    (item,) = foresight.misalignments()
    assert item.resource == port and item.refusal == "its phone has no plan: choose one on the phone's page"
