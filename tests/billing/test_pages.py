"""The staff billing pages and the portal shop: who may do what, and what each page says."""

from __future__ import annotations

import re

import pytest

from accounts.models import Customer
from billing import services
from billing.models import LedgerEntry, Order, OrderState, Product
from inventory.models import Resource, ResourceStatus
from inventory.sync import sync_account
from ops.models import AuditEvent

KEY = "k" * 32


def _key(response, index=0) -> str:
    return re.findall(r'name="idempotency_key" value="([^"]+)"', response.content.decode())[index]


# Portal ------------------------------------------------------------------------------------------


def test_it_shows_the_catalog_with_our_prices_and_the_balance(client, alice, funded, shop_product, sold_out_product):
    Product.objects.filter(pk=sold_out_product.pk).update(active=False)
    client.force_login(alice)
    response = client.get("/portal/shop/")
    assert response.status_code == 200
    assert "50.00 USD" in response.content.decode()
    assert "20.00 USD" in response.content.decode()
    assert sold_out_product.name not in response.content.decode()
    assert len(_key(response)) == 32


def test_it_buys_once_when_the_form_is_submitted_twice(client, sandbox, alice, funded, shop_product):
    client.force_login(alice)
    key = _key(client.get("/portal/shop/"))

    first = client.post(f"/portal/shop/buy/{shop_product.pk}/", {"idempotency_key": key}, follow=True)
    second = client.post(f"/portal/shop/buy/{shop_product.pk}/", {"idempotency_key": key}, follow=True)

    assert "was charged" in first.content.decode()
    assert first.redirect_chain[-1][0] == second.redirect_chain[-1][0]
    assert Order.objects.count() == 1
    assert services.customer_balance(customer=funded) == 3000
    assert len(sandbox.calls("POST", "/api/proxy")) == 1


def test_it_rejects_a_get_on_buy(client, alice, shop_product):
    client.force_login(alice)
    assert client.get(f"/portal/shop/buy/{shop_product.pk}/").status_code == 405


def test_it_says_when_the_balance_is_short(client, sandbox, alice, customer_a, shop_product):
    client.force_login(alice)
    response = client.post(f"/portal/shop/buy/{shop_product.pk}/", {"idempotency_key": KEY}, follow=True)
    assert "Insufficient balance" in response.content.decode()
    assert not Order.objects.exists()


def test_it_says_when_the_plan_is_sold_out(client, sandbox, alice, funded, sold_out_product):
    client.force_login(alice)
    response = client.post(f"/portal/shop/buy/{sold_out_product.pk}/", {"idempotency_key": KEY}, follow=True)
    assert "sold out" in response.content.decode()
    assert "refunded" in response.content.decode()


def test_it_says_the_money_is_held_when_the_outcome_is_unknown(client, sandbox, alice, funded, shop_product):
    sandbox.control("faults", {"rules": [{"provider": "shop", "match": "POST purchase", "kind": "lost_response"}]})
    client.force_login(alice)
    response = client.post(f"/portal/shop/buy/{shop_product.pk}/", {"idempotency_key": KEY}, follow=True)
    assert "your money is held, not lost" in response.content.decode()


def test_it_refuses_a_bad_idempotency_key(client, sandbox, alice, funded, shop_product):
    client.force_login(alice)
    response = client.post(f"/portal/shop/buy/{shop_product.pk}/", {"idempotency_key": "<x>"}, follow=True)
    assert "could not be read" in response.content.decode()
    assert not Order.objects.exists()


def test_it_refuses_a_suspended_customers_login(client, alice, funded, shop_product):
    Customer.objects.filter(pk=funded.pk).update(status=Customer.Status.SUSPENDED)
    client.force_login(alice)
    assert client.post(f"/portal/shop/buy/{shop_product.pk}/", {"idempotency_key": KEY}).status_code == 403
    assert not Order.objects.exists()


def test_it_renews_from_the_portal(client, sandbox, alice, funded, resi_product):
    order = services.order_place(customer=funded, product=resi_product, idempotency_key="buy", actor=alice)
    client.force_login(alice)
    page = client.get("/portal/shop/")
    assert f"/portal/shop/renew/{order.resource_id}/" in page.content.decode()

    renew_key = re.findall(
        rf'action="/portal/shop/renew/{order.resource_id}/".*?name="idempotency_key" value="([^"]+)"',
        page.content.decode(),
        re.S,
    )[0]
    response = client.post(f"/portal/shop/renew/{order.resource_id}/", {"idempotency_key": renew_key}, follow=True)

    assert "was charged" in response.content.decode()
    assert services.customer_balance(customer=funded) == 5000 - 1500 - 1400


def test_it_shows_customers_only_their_own_orders_and_ledger(client, sandbox, alice, bob, funded, owner, shop_product):
    order = services.order_place(customer=funded, product=shop_product, idempotency_key="buy", actor=alice)
    services.balance_top_up(customer=bob.customer, amount_cents=777, actor=owner, note="bob's money")
    client.force_login(bob)

    assert client.get(f"/portal/shop/orders/{order.pk}/").status_code == 404
    assert client.post(f"/portal/shop/renew/{order.resource_id}/", {"idempotency_key": KEY}).status_code == 404
    history = client.get("/portal/shop/history/").content.decode()
    assert "bob&#x27;s money" in history
    assert shop_product.name not in history
    assert "bank transfer" not in history

    client.force_login(alice)
    assert client.get(f"/portal/shop/orders/{order.pk}/").status_code == 200
    assert shop_product.name in client.get("/portal/shop/history/").content.decode()


def test_it_keeps_staff_out_of_the_portal_shop(client, support):
    client.force_login(support)
    assert client.get("/portal/shop/").status_code == 403


# Staff ----------------------------------------------------------------------------------------------


def test_it_lists_balances_for_staff(client, support, funded, customer_b):
    client.force_login(support)
    response = client.get("/staff/billing/")
    assert response.status_code == 200
    assert "50.00 USD" in response.content.decode()
    assert "0.00 USD" in response.content.decode()


def test_it_keeps_customers_out_of_staff_billing(client, alice):
    client.force_login(alice)
    assert client.get("/staff/billing/").status_code == 403


def test_it_lets_support_top_up(client, support, customer_a):
    client.force_login(support)
    response = client.post(
        f"/staff/billing/customers/{customer_a.pk}/top-up/", {"amount": "12.34", "note": "ref 42"}, follow=True
    )
    assert response.status_code == 200
    assert services.customer_balance(customer=customer_a) == 1234
    assert AuditEvent.objects.filter(action="billing.ledger.top_up", actor=support).exists()


def test_it_shows_top_up_form_errors(client, support, customer_a):
    client.force_login(support)
    response = client.post(f"/staff/billing/customers/{customer_a.pk}/top-up/", {"amount": "-5"})
    assert response.status_code == 200
    assert "greater than or equal to 0.01" in response.content.decode()
    assert not LedgerEntry.objects.exists()


def test_it_lets_support_credit_but_not_debit(client, support, funded):
    client.force_login(support)
    url = f"/staff/billing/customers/{funded.pk}/adjust/"
    assert client.post(url, {"amount": "-1.00", "note": "oops"}).status_code == 403
    assert client.post(url, {"amount": "1.00", "note": "goodwill"}).status_code == 302
    assert services.customer_balance(customer=funded) == 5100


def test_it_lets_owners_debit_but_not_below_zero(client, owner, funded):
    client.force_login(owner)
    url = f"/staff/billing/customers/{funded.pk}/adjust/"
    assert client.post(url, {"amount": "-10.00", "note": "chargeback"}).status_code == 302
    response = client.post(url, {"amount": "-100.00", "note": "too much"})
    assert "would make it negative" in response.content.decode()
    assert services.customer_balance(customer=funded) == 4000


def test_it_filters_orders_and_reconciles_an_unknown_one(client, sandbox, support, funded, shop_product):
    sandbox.control("faults", {"rules": [{"provider": "shop", "match": "POST purchase", "kind": "lost_response"}]})
    order = services.order_place(customer=funded, product=shop_product, idempotency_key="k", actor=None)
    client.force_login(support)

    listing = client.get("/staff/billing/orders/?state=unknown").content.decode()
    assert f"/staff/billing/orders/{order.pk}/reconcile/" in listing
    assert "/reconcile/" not in client.get("/staff/billing/orders/?state=fulfilled").content.decode()

    response = client.post(f"/staff/billing/orders/{order.pk}/reconcile/", follow=True)
    assert "fulfilled and assigned" in response.content.decode()
    assert Order.objects.get(pk=order.pk).state == OrderState.FULFILLED


def test_it_shows_products_to_support_without_edit_links(client, support, shop_product):
    client.force_login(support)
    response = client.get("/staff/billing/products/")
    assert shop_product.name in response.content.decode()
    assert "/edit/" not in response.content.decode()


@pytest.mark.parametrize("path", ["/staff/billing/products/new/", "/staff/billing/products/{pk}/edit/"])
def test_it_refuses_support_changing_products(client, support, shop_product, path):
    client.force_login(support)
    url = path.format(pk=shop_product.pk)
    assert client.get(url).status_code == 403
    assert client.post(url, {"name": "cheap", "price": "0.01"}).status_code == 403
    shop_product.refresh_from_db()
    assert shop_product.price_cents == 2000


def test_it_lets_owners_create_and_edit_products(client, owner, resi_account, shop_account):
    client.force_login(owner)
    data = {
        "name": "10 GB resi",
        "kind": "resi_gb",
        "account": resi_account.pk,
        "gb": "10",
        "duration_hours": "0",
        "price": "25.00",
        "renewal_price": "24.50",
        "active": "on",
    }
    assert client.post("/staff/billing/products/new/", data).status_code == 302
    product = Product.objects.get(name="10 GB resi")
    assert product.parameters == {"gb": 10, "duration_hours": 0}
    assert (product.price_cents, product.renewal_price_cents) == (2500, 2450)

    response = client.post(f"/staff/billing/products/{product.pk}/edit/", {**data, "account": shop_account.pk})
    assert "needs a unknownproxies provider account" in response.content.decode()
    assert client.post(f"/staff/billing/products/{product.pk}/edit/", {**data, "price": "30"}).status_code == 302
    product.refresh_from_db()
    assert product.price_cents == 3000
    assert AuditEvent.objects.filter(action="billing.product.update", actor=owner).exists()


def test_it_refuses_to_charge_a_price_the_customer_did_not_see(client, sandbox, alice, funded, shop_product):
    client.force_login(alice)
    page = client.get("/portal/shop/").content.decode()
    shown = re.findall(r'name="expected_price_cents" value="(\d+)"', page)[0]
    assert shown == "2000"
    Product.objects.filter(pk=shop_product.pk).update(price_cents=2500)
    response = client.post(
        f"/portal/shop/buy/{shop_product.pk}/", {"idempotency_key": KEY, "expected_price_cents": shown}, follow=True
    )
    assert "is now 25.00 USD (you saw 20.00 USD). Nothing was charged" in response.content.decode()
    assert not Order.objects.exists()
    assert services.customer_balance(customer=funded) == 5000
    assert not sandbox.calls("POST", "/api/proxy")


def test_it_buys_at_the_price_the_customer_saw(client, sandbox, alice, funded, shop_product):
    client.force_login(alice)
    response = client.post(
        f"/portal/shop/buy/{shop_product.pk}/", {"idempotency_key": KEY, "expected_price_cents": "2000"}, follow=True
    )
    assert "was charged" in response.content.decode()
    assert services.customer_balance(customer=funded) == 3000


# Portal: a lapsed subscription is renewed from the shop -----------------------------------------------------


def test_a_customer_renews_a_lapsed_subscription_in_the_portal(client, sandbox, alice, funded, shop_product):
    bought = services.order_place(customer=funded, product=shop_product, idempotency_key="b" * 16, actor=None)
    sandbox.control("clock", {"advance_seconds": 31 * 86400})
    sync_account(account=shop_product.account)
    client.force_login(alice)
    detail = client.get(f"/portal/proxies/{bought.resource.pk}/").content.decode()
    assert "Renew it" in detail and 'id="renew"' in detail
    catalog = client.get("/portal/shop/")
    assert f'id="renew-{bought.resource.pk}"' in catalog.content.decode()
    key = re.findall(r'name="idempotency_key" value="([^"]+)"', catalog.content.decode())[-1]
    response = client.post(f"/portal/shop/renew/{bought.resource.pk}/", {"idempotency_key": key}, follow=True)
    assert "was charged" in response.content.decode()
    resource = Resource.objects.get(pk=bought.resource.pk)
    assert resource.status == ResourceStatus.ACTIVE
