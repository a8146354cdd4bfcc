"""Our coupons: percent or amount off, a validity window, limits in total and per customer, counted atomically."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from billing import coupons, services
from billing.models import Coupon, CouponRedemption, LedgerEntry, Order
from tests.factories import CustomerFactory


def _coupon(**fields) -> Coupon:
    defaults = {"code": "SAVE10", "kind": "percent", "percent_off": 10, "max_per_customer": 1}
    return coupons.coupon_save(actor=None, **{**defaults, **fields})


def _buy(customer, product, key: str, code: str = "", expected: int | None = None) -> Order:
    return services.order_place(
        customer=customer,
        product=product,
        idempotency_key=key * 16,
        actor=None,
        coupon_code=code,
        expected_price_cents=expected,
    )


def test_a_percent_coupon_takes_its_share_off_the_charge(sandbox, funded, shop_product):
    coupon = _coupon()

    order = _buy(funded, shop_product, "a", "save10", expected=1800)

    assert (order.state, order.price_cents, order.discount_cents, order.coupon) == ("fulfilled", 1800, 200, coupon)
    assert LedgerEntry.objects.get(order=order, kind="purchase").amount_cents == -1800
    assert CouponRedemption.objects.get(order=order).discount_cents == 200
    assert services.customer_balance(customer=funded) == 3200


def test_an_amount_coupon_larger_than_the_price_floors_it_at_zero(sandbox, funded, shop_product):
    _coupon(code="FREE", kind="fixed", percent_off=None, amount_off_cents=5000)

    order = _buy(funded, shop_product, "b", "FREE", expected=0)

    assert (order.state, order.price_cents, order.discount_cents) == ("fulfilled", 0, 2000)
    assert not LedgerEntry.objects.filter(order=order).exists()
    assert services.customer_balance(customer=funded) == 5000


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"valid_until": timezone.now() - dt.timedelta(minutes=1)}, "expired on"),
        ({"valid_from": timezone.now() + dt.timedelta(days=1)}, "is valid from"),
        ({"active": False}, "does not exist or is no longer valid"),
    ],
)
def test_it_refuses_a_coupon_outside_its_window_and_charges_nothing(sandbox, funded, shop_product, window, message):
    _coupon(**window)

    with pytest.raises(services.CouponNotAccepted, match=message):
        _buy(funded, shop_product, "c", "SAVE10")

    assert not Order.objects.exists()
    assert services.customer_balance(customer=funded) == 5000


def test_it_refuses_an_unknown_coupon(sandbox, funded, shop_product):
    with pytest.raises(services.CouponNotAccepted, match="NOPE does not exist"):
        _buy(funded, shop_product, "d", "nope")


def test_it_refuses_a_coupon_used_up_in_total(sandbox, funded, customer_b, owner, shop_product):
    _coupon(max_redemptions=1, max_per_customer=None)
    services.balance_top_up(customer=customer_b, amount_cents=5000, actor=owner)
    _buy(customer_b, shop_product, "e", "SAVE10")

    with pytest.raises(services.CouponNotAccepted, match="used up"):
        _buy(funded, shop_product, "f", "SAVE10")
    assert Order.objects.filter(customer=funded).count() == 0


def test_it_refuses_a_coupon_past_its_per_customer_limit_but_others_may_use_it(
    sandbox, funded, customer_b, owner, shop_product
):
    _coupon(max_per_customer=1)
    services.balance_top_up(customer=customer_b, amount_cents=5000, actor=owner)
    _buy(funded, shop_product, "g", "SAVE10")

    with pytest.raises(services.CouponNotAccepted, match="already used the coupon SAVE10"):
        _buy(funded, shop_product, "h", "SAVE10")
    assert _buy(customer_b, shop_product, "i", "SAVE10").discount_cents == 200


def test_a_failed_order_gives_its_coupon_use_back(sandbox, funded, shop_product, sold_out_product):
    _coupon(max_redemptions=1)

    failed = _buy(funded, sold_out_product, "j", "SAVE10")
    assert failed.state == "failed"
    assert LedgerEntry.objects.get(order=failed, kind="refund").amount_cents == 3150

    assert _buy(funded, shop_product, "k", "SAVE10").discount_cents == 200


def test_it_refuses_the_list_price_when_the_coupon_makes_it_cheaper(sandbox, funded, shop_product):
    """The page showed the price with the coupon: any other price is one the customer did not see."""
    _coupon()
    with pytest.raises(services.PriceChanged):
        _buy(funded, shop_product, "l", "SAVE10", expected=2000)


def test_it_rounds_a_percent_discount_down(shop_product):
    coupon = Coupon(kind="percent", percent_off=33)
    assert coupon.discount_on(1001) == 330
    assert Coupon(kind="fixed", amount_off_cents=700).discount_on(500) == 500


@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_never_take_a_coupon_past_its_total(sandbox, owner, shop_product):
    """Real threads on PostgreSQL (make test): the coupon row lock serialises the counting."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    _coupon(max_redemptions=2, max_per_customer=None)
    buyers = [CustomerFactory() for _ in range(6)]
    for buyer in buyers:
        services.balance_top_up(customer=buyer, amount_cents=5000, actor=owner)
    barrier = threading.Barrier(len(buyers))
    outcomes: list[str] = []

    def worker(index: int, buyer):
        barrier.wait()
        try:
            _buy(buyer, shop_product, chr(ord("m") + index), "SAVE10")
            outcomes.append("redeemed")
        except services.CouponNotAccepted:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, b)) for i, b in enumerate(buyers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["redeemed"] * 2 + ["refused"] * 4
    assert CouponRedemption.objects.count() == 2
    assert Order.objects.count() == 2


# Pages -----------------------------------------------------------------------------------------------


def test_the_catalog_shows_the_discounted_price_before_the_customer_buys(client, sandbox, alice, funded, shop_product):
    _coupon()
    client.force_login(alice)

    page = client.get("/portal/shop/?coupon=save10").text
    assert "<del>20.00 USD</del> <strong>18.00 USD</strong>" in page
    key = re.findall(r'name="idempotency_key" value="([^"]+)"', page)[0]
    assert re.findall(r'name="expected_price_cents" value="(\d+)"', page)[0] == "1800"
    assert 'name="coupon" value="SAVE10"' in page

    bought = client.post(
        f"/portal/shop/buy/{shop_product.pk}/",
        {"idempotency_key": key, "expected_price_cents": "1800", "coupon": "SAVE10"},
        follow=True,
    )
    assert "18.00 USD was charged" in bought.text
    assert "(20.00 USD less 2.00 USD with coupon SAVE10)" in bought.text
    assert services.customer_balance(customer=funded) == 3200


def test_the_catalog_says_why_a_coupon_does_not_apply(client, alice, funded, shop_product):
    _coupon(valid_until=timezone.now() - dt.timedelta(days=1))
    client.force_login(alice)

    page = client.get("/portal/shop/?coupon=SAVE10").text

    assert "The coupon SAVE10 expired on" in page
    assert "<del>" not in page


def test_owners_create_and_edit_coupons(client, owner):
    client.force_login(owner)
    data = {"code": "winter", "kind": "fixed", "amount_off": "5.00", "max_per_customer": "2", "active": "on"}

    assert client.post("/staff/billing/coupons/new/", data).status_code == 302
    coupon = Coupon.objects.get()
    assert (coupon.code, coupon.amount_off_cents, coupon.percent_off, coupon.max_per_customer) == (
        "WINTER",
        500,
        None,
        2,
    )
    edited = client.post(f"/staff/billing/coupons/{coupon.pk}/edit/", {**data, "kind": "percent", "percent_off": "15"})
    assert edited.status_code == 302
    coupon.refresh_from_db()
    assert (coupon.kind, coupon.percent_off, coupon.amount_off_cents) == ("percent", 15, None)
    assert "15% off" in client.get("/staff/billing/coupons/").text


def test_the_coupon_form_says_what_is_missing(client, owner):
    client.force_login(owner)
    _coupon(code="TAKEN")

    missing = client.post("/staff/billing/coupons/new/", {"code": "x1x", "kind": "percent"})
    taken = client.post("/staff/billing/coupons/new/", {"code": "taken", "kind": "percent", "percent_off": "5"})

    assert "A percent-off coupon needs its percentage." in missing.text
    assert "Coupon with this Code already exists." in taken.text


def test_support_sees_coupons_but_cannot_change_them(client, support):
    coupon = _coupon()
    client.force_login(support)

    assert "SAVE10" in client.get("/staff/billing/coupons/").text
    assert client.get("/staff/billing/coupons/new/").status_code == 403
    assert client.post(f"/staff/billing/coupons/{coupon.pk}/edit/", {"code": "X"}).status_code == 403
