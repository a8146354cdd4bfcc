"""Auto-renew, auto top-up and the monthly cap: ordinary orders, one per period, nothing charged when refused."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from billing import automatic, services, tasks
from billing.models import AutoRenewal, AutoTopUp, LedgerEntry, Order, OrderState, OrderTrigger, Product, SpendingCap
from inventory.models import Alert, Resource
from notifications.models import Notification
from ops.models import AuditEvent


def _bought(customer, product, key="b" * 16):
    order = services.order_place(customer=customer, product=product, idempotency_key=key, actor=None)
    assert order.state == OrderState.FULFILLED
    return Resource.objects.get(pk=order.resource_id)


def _due_now(resource):
    """A moment inside the auto-renew window of the resource (two days before it expires)."""
    return resource.expires_at - dt.timedelta(days=2)


def _charges(customer):
    return LedgerEntry.objects.filter(customer=customer, kind__in=["purchase", "renewal"]).count()


# Auto-renew ----------------------------------------------------------------------------------------


def test_auto_renew_run_twice_for_one_period_renews_once(sandbox, funded, shop_product, alice):
    resource = _bought(funded, shop_product)
    automatic.auto_renew_set(resource=resource, enabled=True, actor=alice)
    before = resource.expires_at
    now = _due_now(resource)

    first = automatic.auto_renew_due(now=now)
    second = automatic.auto_renew_due(now=now)  # a duplicated beat, or a retried task

    assert first["placed"] == 1
    assert second["placed"] == 0
    renewal = Order.objects.get(kind="renewal")
    assert renewal.trigger == OrderTrigger.AUTO_RENEW
    assert renewal.state == OrderState.FULFILLED
    assert renewal.idempotency_key == f"auto-renew:{resource.pk}:{int(before.timestamp())}:0"
    resource.refresh_from_db()
    assert resource.expires_at - before == dt.timedelta(days=30)
    assert services.customer_balance(customer=funded) == 5000 - 2000 - 1800
    # The next period is not due yet: the new expiry is a month away.
    assert automatic.auto_renew_due(now=now)["placed"] == 0


def test_the_same_period_placed_twice_gives_the_same_order(sandbox, funded, shop_product, alice):
    resource = _bought(funded, shop_product)
    automatic.auto_renew_set(resource=resource, enabled=True, actor=alice)
    # Both runs read the resource before either renewal landed (same period, same key).
    key = f"auto-renew:{resource.pk}:{int(resource.expires_at.timestamp())}:0"
    one = services.order_renew(customer=funded, resource=resource, idempotency_key=key, actor=None)
    two = services.order_renew(customer=funded, resource=resource, idempotency_key=key, actor=None)
    assert one.pk == two.pk
    assert Order.objects.filter(kind="renewal").count() == 1


def test_auto_renew_is_off_by_default(sandbox, funded, shop_product):
    resource = _bought(funded, shop_product)

    assert automatic.auto_renew_due(now=_due_now(resource)) == dict.fromkeys(
        ("placed", "already", "no_money", "capped", "skipped", "gave_up"), 0
    )
    assert not AutoRenewal.objects.exists()


def test_auto_renew_without_enough_money_warns_and_charges_nothing(sandbox, customer_a, owner, shop_product, alice):
    customer_a.contact_email = "alice@example.com"
    customer_a.save()
    services.balance_top_up(customer=customer_a, amount_cents=2500, actor=owner)
    resource = _bought(customer_a, shop_product)
    automatic.auto_renew_set(resource=resource, enabled=True, actor=alice)

    counts = automatic.auto_renew_due(now=_due_now(resource))
    automatic.auto_renew_due(now=_due_now(resource))  # the next run does not repeat the same warning

    assert counts["no_money"] == 1
    assert not Order.objects.filter(kind="renewal").exists()
    assert services.customer_balance(customer=customer_a) == 500
    alert = Alert.objects.get(threshold="auto-renew:no_money")
    assert alert.customer == customer_a
    assert "nothing was charged" in alert.message
    assert "Insufficient balance" in alert.message
    # A customer with portal logins is told through the notifications (feed, then their channels); the alert
    # email itself goes to staff.
    told = Notification.objects.get(user=alice, key=f"alert:{alert.pk}")
    assert "nothing was charged" in told.body
    assert [message.to for message in mail.outbox] == [["owner@example.com"]]

    # Warned again when less than a day is left, still without a charge.
    automatic.auto_renew_due(now=resource.expires_at - dt.timedelta(hours=12))
    assert Alert.objects.filter(threshold="auto-renew:no_money:last").count() == 1
    assert _charges(customer_a) == 1


def test_auto_renew_past_the_monthly_cap_is_skipped_with_a_notice(sandbox, funded, shop_product, alice):
    resource = _bought(funded, shop_product)
    automatic.auto_renew_set(resource=resource, enabled=True, actor=alice)
    automatic.spending_cap_set(customer=funded, monthly_cap_cents=1000, actor=alice)

    counts = automatic.auto_renew_due(now=_due_now(resource))

    assert counts["capped"] == 1
    assert not Order.objects.filter(kind="renewal").exists()
    assert services.customer_balance(customer=funded) == 3000
    alert = Alert.objects.get(threshold="auto-renew:capped")
    assert "monthly limit for automatic orders is 10.00" in alert.message


def test_the_cap_counts_only_automatic_orders_of_this_month(sandbox, funded, owner, shop_product, alice):
    services.balance_top_up(customer=funded, amount_cents=10_000, actor=owner)
    first = _bought(funded, shop_product, key="a" * 16)
    second = _bought(funded, shop_product, key="c" * 16)  # bought by hand: never capped, never counted
    for resource in (first, second):
        automatic.auto_renew_set(resource=resource, enabled=True, actor=alice)
    SpendingCap.objects.create(customer=funded, monthly_cap_cents=1800)

    counts = automatic.auto_renew_due(now=_due_now(first))

    assert counts == {"placed": 1, "already": 0, "no_money": 0, "capped": 1, "skipped": 0, "gave_up": 0}
    assert Order.objects.filter(trigger=OrderTrigger.AUTO_RENEW).count() == 1


def test_a_refunded_auto_renewal_is_tried_again_with_the_next_key(sandbox, funded, shop_product, alice):
    resource = _bought(funded, shop_product)
    automatic.auto_renew_set(resource=resource, enabled=True, actor=alice)
    sandbox.control("faults", {"rules": [{"provider": "shop", "match": "POST renew", "kind": "status", "status": 400}]})

    assert automatic.auto_renew_due(now=_due_now(resource))["placed"] == 1
    assert Order.objects.get(kind="renewal").state == OrderState.FAILED
    assert automatic.auto_renew_due(now=_due_now(resource))["placed"] == 1

    keys = sorted(Order.objects.filter(kind="renewal").values_list("idempotency_key", flat=True))
    assert [key.rsplit(":", 1)[1] for key in keys] == ["0", "1"]
    assert Order.objects.filter(kind="renewal", state=OrderState.FULFILLED).count() == 1


def test_the_beat_task_runs_the_auto_renewals(sandbox, funded, shop_product, alice, settings):
    resource = _bought(funded, shop_product)
    automatic.auto_renew_set(resource=resource, enabled=True, actor=alice)
    settings.AUTO_RENEW_DAYS_BEFORE = 31

    assert tasks.auto_renew_due()["placed"] == 1
    from config.settings import CELERY_BEAT_SCHEDULE

    assert CELERY_BEAT_SCHEDULE["auto-renew-due"]["task"] == "billing.auto_renew_due"


# Auto top-up ----------------------------------------------------------------------------------------


@pytest.fixture
def gb_pack(resi_account):
    return Product.objects.create(
        name="10 GB residential pack",
        kind="resi_gb",
        account=resi_account,
        parameters={"gb": 10, "duration_hours": 0},
        price_cents=2500,
        renewal_price_cents=2400,
    )


def _use(resource, fraction):
    Resource.objects.filter(pk=resource.pk).update(data_used_bytes=int(resource.data_limit_bytes * fraction))


def test_auto_top_up_buys_the_chosen_pack_once_per_usage_cycle(sandbox, funded, owner, resi_product, gb_pack, alice):
    services.balance_top_up(customer=funded, amount_cents=5000, actor=owner)
    token = _bought(funded, resi_product)
    automatic.auto_top_up_set(resource=token, enabled=True, threshold_percent=90, product=gb_pack, actor=alice)

    _use(token, 0.5)
    assert automatic.auto_top_up_due()["placed"] == 0
    _use(token, 0.92)
    assert automatic.auto_top_up_due()["placed"] == 1
    assert automatic.auto_top_up_due()["placed"] == 0  # the limit moved: not due again in this cycle

    order = Order.objects.get(trigger=OrderTrigger.AUTO_TOP_UP)
    assert order.product == gb_pack
    assert order.price_cents == 2400
    assert order.state == OrderState.FULFILLED
    token.refresh_from_db()
    assert token.data_limit_bytes == 15_000_000_000
    assert services.customer_balance(customer=funded) == 10_000 - 1500 - 2400


def test_auto_top_up_without_money_warns_and_charges_nothing(sandbox, customer_a, owner, resi_product, gb_pack, alice):
    services.balance_top_up(customer=customer_a, amount_cents=1500, actor=owner)
    token = _bought(customer_a, resi_product)
    automatic.auto_top_up_set(resource=token, enabled=True, threshold_percent=90, product=gb_pack, actor=alice)
    _use(token, 0.95)

    assert automatic.auto_top_up_due()["no_money"] == 1
    assert automatic.auto_top_up_due()["no_money"] == 1

    assert Alert.objects.filter(threshold="auto-top-up:no_money").count() == 1
    assert not Order.objects.filter(trigger=OrderTrigger.AUTO_TOP_UP).exists()
    assert services.customer_balance(customer=customer_a) == 0


# Portal ---------------------------------------------------------------------------------------------


def test_the_proxy_page_turns_auto_renew_on_and_off(client, sandbox, funded, shop_product, alice):
    resource = _bought(funded, shop_product)
    client.force_login(alice)
    page = client.get(f"/portal/proxies/{resource.pk}/").content.decode()
    assert "Auto-renew is <strong>off</strong>" in page

    client.post(f"/portal/shop/auto-renew/{resource.pk}/", {"enabled": "on"})
    assert AutoRenewal.objects.get(resource=resource).enabled
    assert "Auto-renew is <strong>on</strong>" in client.get(f"/portal/proxies/{resource.pk}/").content.decode()
    client.post(f"/portal/shop/auto-renew/{resource.pk}/", {"enabled": ""})
    assert not AutoRenewal.objects.get(resource=resource).enabled
    assert AuditEvent.objects.filter(action="billing.auto_renew.on").count() == 1


def test_a_customer_cannot_switch_another_customers_proxy(client, sandbox, funded, shop_product, bob):
    resource = _bought(funded, shop_product)
    client.force_login(bob)

    assert client.post(f"/portal/shop/auto-renew/{resource.pk}/", {"enabled": "on"}).status_code == 404
    assert not AutoRenewal.objects.exists()


def test_the_proxy_page_sets_auto_top_up_and_refuses_it_without_a_pack(
    client, sandbox, funded, resi_product, gb_pack, alice
):
    token = _bought(funded, resi_product)
    client.force_login(alice)
    page = client.get(f"/portal/proxies/{token.pk}/").content.decode()
    assert "10 GB residential pack" in page

    response = client.post(
        f"/portal/shop/auto-top-up/{token.pk}/", {"enabled": "on", "threshold_percent": "90"}, follow=True
    )
    assert "Choose the pack" in response.content.decode()
    assert not AutoTopUp.objects.exists()

    client.post(
        f"/portal/shop/auto-top-up/{token.pk}/", {"enabled": "on", "threshold_percent": "85", "product": gb_pack.pk}
    )
    wish = AutoTopUp.objects.get(resource=token)
    assert (wish.enabled, wish.threshold_percent, wish.product) == (True, 85, gb_pack)


@pytest.mark.parametrize(("value", "expected"), [("25.00", 2500), ("", None)])
def test_the_customer_sets_a_monthly_cap_and_staff_see_it(client, funded, alice, support, value, expected):
    client.force_login(alice)
    client.post("/portal/shop/spending-cap/", {"monthly_cap": value})
    assert SpendingCap.objects.get(customer=funded).monthly_cap_cents == expected

    client.force_login(support)
    page = client.get(f"/staff/billing/customers/{funded.pk}/").content.decode()
    assert ("25.00" if expected else "no limit") in page


def test_a_negative_cap_is_refused_clearly(client, funded, alice):
    client.force_login(alice)
    response = client.post("/portal/shop/spending-cap/", {"monthly_cap": "-1"})
    assert "greater than or equal to 0" in response.content.decode()
    assert not SpendingCap.objects.exists()
