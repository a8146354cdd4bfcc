"""What each sale earns: costs on products, cost and price on orders, the margins page, below-cost prices."""

from __future__ import annotations

import re

import pytest

from billing import coupons, services
from billing.models import Order, Product
from ops.models import AuditEvent


def _buy(customer, product, key: str, **extra) -> Order:
    return services.order_place(customer=customer, product=product, idempotency_key=key * 16, actor=None, **extra)


def test_an_order_keeps_the_cost_and_price_of_the_time(sandbox, funded, shop_product):
    Product.objects.filter(pk=shop_product.pk).update(cost_cents=1200, renewal_cost_cents=1100)

    order = _buy(funded, shop_product, "a")
    Product.objects.filter(pk=shop_product.pk).update(cost_cents=1500, price_cents=2500)

    order.refresh_from_db()
    assert (order.price_cents, order.cost_cents, order.margin_cents) == (2000, 1200, 800)


def test_a_renewal_records_the_renewal_cost(sandbox, funded, resi_product):
    Product.objects.filter(pk=resi_product.pk).update(cost_cents=900, renewal_cost_cents=850)
    bought = _buy(funded, resi_product, "b")

    renewal = services.order_renew(customer=funded, resource=bought.resource, idempotency_key="c" * 16, actor=None)

    assert (renewal.price_cents, renewal.cost_cents) == (1400, 850)


def test_an_order_of_a_product_without_a_cost_has_an_unknown_margin(sandbox, funded, shop_product):
    order = _buy(funded, shop_product, "d")
    assert order.cost_cents is None
    assert order.margin_cents is None


def test_the_cost_of_a_shop_product_is_read_from_the_shops_plan_price(sandbox, owner, shop_product):
    product = services.product_cost_from_upstream(product=shop_product, actor=owner)

    assert (product.cost_cents, product.renewal_cost_cents) == (1200, 1200)
    assert AuditEvent.objects.filter(action="billing.product.cost_from_upstream").exists()


def test_a_product_whose_provider_gives_no_price_asks_for_the_cost_by_hand(sandbox, owner, resi_product):
    with pytest.raises(services.BillingError, match="enter its cost by hand"):
        services.product_cost_from_upstream(product=resi_product, actor=owner)


def test_owners_read_the_cost_from_the_product_list(client, sandbox, owner, shop_product, resi_product):
    client.force_login(owner)
    listing = client.get("/staff/billing/products/").text
    assert f"/staff/billing/products/{shop_product.pk}/upstream-cost/" in listing
    assert f"/staff/billing/products/{resi_product.pk}/upstream-cost/" not in listing

    response = client.post(f"/staff/billing/products/{shop_product.pk}/upstream-cost/", follow=True)

    assert "costs us 12.00 USD (renewal 12.00 USD)" in response.text


# Below cost ------------------------------------------------------------------------------------------

PRODUCT_DATA = {"name": "10 GB resi", "kind": "resi_gb", "gb": "10", "duration_hours": "0", "active": "on"}


def test_saving_a_price_below_cost_needs_the_owners_confirmation(client, owner, resi_account):
    client.force_login(owner)
    data = {**PRODUCT_DATA, "account": resi_account.pk, "price": "9.00", "renewal_price": "9.00", "cost": "10.00"}

    refused = client.post("/staff/billing/products/new/", data)
    assert refused.status_code == 200
    assert (
        "This product would sell below cost (the price 9.00 is below the cost 10.00): tick to confirm." in refused.text
    )
    assert not Product.objects.exists()

    assert client.post("/staff/billing/products/new/", {**data, "confirm_below_cost": "on"}).status_code == 302
    product = Product.objects.get()
    assert (product.price_cents, product.cost_cents, product.below_cost) == (900, 1000, True)
    assert "below cost" in client.get("/staff/billing/products/").text


def test_the_service_refuses_a_below_cost_price_unless_an_owner_confirms(resi_account, owner, support):
    fields = {
        "name": "cheap",
        "kind": "resi_gb",
        "account": resi_account,
        "parameters": {"gb": 1, "duration_hours": 0},
        "price_cents": 500,
        "renewal_price_cents": 900,
        "cost_cents": 400,
        "renewal_cost_cents": 1000,
    }
    with pytest.raises(services.BelowCost, match="An owner must confirm"):
        services.product_create(actor=owner, **fields)
    with pytest.raises(services.BelowCost):
        services.product_create(actor=support, confirm_below_cost=True, **fields)
    assert services.product_create(actor=owner, confirm_below_cost=True, **fields).below_cost


def test_a_price_above_cost_saves_without_confirmation(client, owner, resi_account):
    client.force_login(owner)
    data = {**PRODUCT_DATA, "account": resi_account.pk, "price": "12.00", "renewal_price": "12.00", "cost": "10.00"}
    assert client.post("/staff/billing/products/new/", data).status_code == 302
    assert "below cost" not in client.get("/staff/billing/products/").text


# The margins page --------------------------------------------------------------------------------------


@pytest.fixture
def sales(sandbox, funded, customer_b, owner, shop_product, resi_product, sold_out_product):
    """Alice buys a shop plan (cost 12.00) with a 10% coupon and a resi pack (cost unknown); Bob one shop plan;
    one sold-out order fails (refunded, no margin)."""
    Product.objects.filter(pk=shop_product.pk).update(cost_cents=1200)
    coupons.coupon_save(actor=None, code="TEN", kind="percent", percent_off=10, max_per_customer=None)
    services.balance_top_up(customer=customer_b, amount_cents=5000, actor=owner)
    services.balance_top_up(customer=funded, amount_cents=5000, actor=owner)
    _buy(funded, shop_product, "e", coupon_code="TEN")
    _buy(funded, resi_product, "f")
    _buy(customer_b, shop_product, "g")
    _buy(funded, sold_out_product, "h")


def test_the_margins_page_shows_each_fulfilled_order(client, owner, sales):
    client.force_login(owner)
    page = client.get("/staff/billing/margins/").text

    assert "TEN (−2.00 USD)" in page  # noqa: RUF001
    assert page.count("<td>6.00 USD</td>") == 1  # Alice: 18.00 - 12.00
    assert page.count("<td>8.00 USD</td>") == 1  # Bob: 20.00 - 12.00
    assert "unknown" in page
    assert "New York" not in page  # the failed order earned nothing


@pytest.mark.parametrize(
    ("by", "label", "figures"),
    [
        ("product", "Amsterdam private 30 days", (2, 3800, 200, 2400, 1400, 0)),
        ("customer", "Alice Analytics Ltd", (2, 3300, 200, 1200, 600, 1)),
        ("customer", "Bob&#x27;s Sneaker Bots", (1, 2000, 0, 1200, 800, 0)),
    ],
)
def test_the_margins_page_groups_by_product_and_customer(client, owner, sales, by, label, figures):
    from billing.selectors import margin_rows
    from ops.units import format_money

    client.force_login(owner)
    page = client.get(f"/staff/billing/margins/?by={by}").text
    row = next(r for r in margin_rows(by=by) if r["label"] == label.replace("&#x27;", "'"))

    keys = ("orders", "revenue_cents", "discount_cents", "cost_cents", "margin_cents", "unknown_cost")
    assert tuple(row[key] for key in keys) == figures
    cells = [label, str(figures[0]), *(format_money(cents) for cents in figures[1:5]), str(figures[5])]
    html_row = next(tr for tr in page.split("<tr>") if f"<td>{label}</td>" in tr)
    assert re.findall(r"<td>(.*?)</td>", html_row) == cells


def test_the_margins_by_month_add_up(sales):
    from billing.selectors import margin_rows

    (month,) = margin_rows(by="month")
    assert (month["orders"], month["revenue_cents"], month["cost_cents"], month["unknown_cost"]) == (3, 5300, 2400, 1)
    assert month["margin_cents"] == 1400  # the resi pack's 15.00 has no cost, so it is left out of the margin


def test_support_cannot_see_margins(client, support):
    client.force_login(support)
    assert client.get("/staff/billing/margins/").status_code == 403
