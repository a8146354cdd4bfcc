"""The staff pages of foresight: the runway on the provider page and the dashboard, expiry alignment with its
fix, margin at risk; who may see and do what, and query counts that do not grow with the rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing import foresight, services
from billing.models import Product
from integrations.iproxy import actions as iproxy_actions
from integrations.iproxy.kinds import IPROXY, IPROXY_ACCESS, IPROXY_CONNECTION, IPROXY_PORT
from inventory.assignment import resource_assign
from inventory.models import Resource
from inventory.sync import sync_account
from providers.registry import client_for_account
from tests.factories import ProviderAccountFactory
from tests.support.accounts import synced_account
from tests.support.pages import page

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def account(sandbox):
    return synced_account(IPROXY, name="iProxy sandbox")


@pytest.fixture
def warsaw(account):
    phone = Resource.objects.get(account=account, kind=IPROXY_CONNECTION, label="online with plan")
    iproxy_actions.phone_capacity_set(connection=phone, max_ports=5, plan_price_cents=1500, actor=None)
    return phone


@pytest.fixture
def new_york(account):
    phone = Resource.objects.get(account=account, kind=IPROXY_CONNECTION, label="offline with plan")
    iproxy_actions.phone_capacity_set(connection=phone, max_ports=5, plan_price_cents=3000, actor=None)
    return phone


def _sell_a_port_on(phone: Resource, customer) -> Resource:
    port = Resource.objects.filter(kind=IPROXY_ACCESS, parent=phone, customer__isnull=True).order_by("pk").first()
    return resource_assign(resource=port, customer=customer, actor=None)


def _get(client, url: str) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response


# Runway ---------------------------------------------------------------------------------------------------


def test_the_provider_page_shows_the_runway_and_each_cost(client, support, account, warsaw, customer_a, sandbox):
    _sell_a_port_on(warsaw, customer_a)
    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 1000})
    foresight.foresight_check()
    client.force_login(support)

    text = page(client.get(reverse("providers:account-detail", args=[account.pk])))

    # Warsaw's plan (15.00) ends a moment short of 20 days from now: the balance runs out then.
    assert "runway: 19 days" in text
    assert "Balance 10.00 USD" in text and "15.00 USD" in text
    assert f"{warsaw}: plan prolonged by 30 days" in text


def test_the_provider_page_queries_do_not_grow_with_the_costs(client, support, account, warsaw, new_york, customer_a):
    client.force_login(support)
    url = reverse("providers:account-detail", args=[account.pk])
    _sell_a_port_on(warsaw, customer_a)
    one, response = _get(client, url)
    assert len(response.context["runway"].costs) == 1
    _sell_a_port_on(new_york, customer_a)
    two, response = _get(client, url)
    assert len(response.context["runway"].costs) == 2
    assert one == two


def test_a_provider_without_a_readable_balance_lists_its_costs_without_a_runway(client, support, sandbox):
    from integrations.proxyshop.kinds import PROXY_SHOP

    shop = ProviderAccountFactory(kind=PROXY_SHOP, name="Shop sandbox")
    client.force_login(support)
    text = page(client.get(reverse("providers:account-detail", args=[shop.pk])))
    assert "(balance not known)" in text and "does not report a balance" in text


def test_the_dashboard_says_how_long_each_balance_lasts(client, owner, account, warsaw, customer_a, sandbox):
    _sell_a_port_on(warsaw, customer_a)
    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 1000})
    foresight.foresight_check()
    client.force_login(owner)
    text = page(client.get(reverse("staff:home")))
    assert "iProxy sandbox" in text and "runway: " in text


# Expiry alignment -----------------------------------------------------------------------------------------


@pytest.fixture
def port_product(account):
    return Product.objects.create(
        name="Warsaw port, 12 days",
        kind=IPROXY_PORT,
        account=account,
        parameters={"country": "pl", "city": "waw", "days": 12, "listen_service": "http"},
        price_cents=1000,
        renewal_price_cents=900,
    )


@pytest.fixture
def misaligned(account, warsaw, funded, alice, port_product):
    """A 12-day port on Warsaw, whose plan is then shortened to 10 days in the iProxy console."""
    order = services.order_place(customer=funded, product=port_product, idempotency_key="buy", actor=alice)
    upstream = client_for_account(account)
    current = upstream.get_connection(warsaw.upstream_id).active_plan
    upstream.change_plan(warsaw.upstream_id, plan_id="pro30", active_plan=current)
    assert sync_account(account=account).outcome == "ok"
    return Resource.objects.get(pk=order.resource_id)


def test_staff_see_the_misaligned_port_with_its_gap_and_only_owners_get_the_fix(client, support, owner, misaligned):
    client.force_login(support)
    text = page(client.get(reverse("billing:alignment")))
    assert str(misaligned) in text and "2.0 days" in text and "an owner can fix it" in text
    assert client.post(reverse("billing:alignment-fix", args=[misaligned.pk])).status_code == 403

    client.force_login(owner)
    response = client.get(reverse("billing:alignment"))
    assert reverse("billing:alignment-fix", args=[misaligned.pk]) in response.content.decode()


def test_the_fix_prolongs_the_phone_and_the_list_empties(client, owner, misaligned, sandbox):
    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 10000})
    client.force_login(owner)

    response = client.post(reverse("billing:alignment-fix", args=[misaligned.pk]), follow=True)

    text = page(response)
    assert "upstream now serves it through its paid period" in text
    assert "Upstream serves every sold service through its paid period." in text
    misaligned.parent.refresh_from_db()
    assert misaligned.parent.expires_at >= misaligned.paid_through


def test_a_fix_upstream_refuses_is_said_plainly(client, owner, misaligned, sandbox):
    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 0})
    client.force_login(owner)
    text = page(client.post(reverse("billing:alignment-fix", args=[misaligned.pk]), follow=True))
    assert "not fixed" in text
    assert foresight.misalignments()


def test_the_alignment_page_queries_do_not_grow_with_the_rows(client, support, misaligned, customer_b):
    client.force_login(support)
    one, response = _get(client, reverse("billing:alignment"))
    assert len(response.context["items"]) == 1
    # Two more ports sold on the same phone, paid past its plan (our own record of what was paid).
    for port in Resource.objects.filter(parent=misaligned.parent, customer__isnull=True)[:2]:
        resource_assign(resource=port, customer=customer_b, actor=None)
        Resource.objects.filter(pk=port.pk).update(paid_through=timezone.now() + 15 * DAY)
    three, response = _get(client, reverse("billing:alignment"))
    assert len(response.context["items"]) == 3
    assert one == three


def test_the_dashboard_counts_the_misaligned(client, support, misaligned):
    client.force_login(support)
    text = page(client.get(reverse("staff:home")))
    assert "1 service" in text and "end upstream before the period the customer paid for" in text


# Margin at risk -------------------------------------------------------------------------------------------


def _below_cost(product, owner, cents):
    services.product_update(product=product, actor=owner, renewal_cost_cents=cents, confirm_below_cost=True)


def test_owners_see_the_products_at_risk_and_support_does_not(
    client, owner, support, sandbox, funded, alice, shop_product
):
    services.order_place(customer=funded, product=shop_product, idempotency_key="buy", actor=alice)
    _below_cost(shop_product, owner, 2000)
    client.force_login(support)
    assert client.get(reverse("billing:margin-risk")).status_code == 403

    client.force_login(owner)
    text = page(client.get(reverse("billing:margin-risk")))
    assert "Amsterdam private 30 days" in text and "18.00 USD" in text and "20.00 USD" in text
    assert "\u22122.00 USD" in text  # a minus sign
    assert "would renew sold services below cost" in page(client.get(reverse("staff:home")))


def test_the_margin_page_queries_do_not_grow_with_the_rows(
    client, owner, sandbox, funded, alice, shop_product, resi_product
):
    services.order_place(customer=funded, product=shop_product, idempotency_key="a", actor=alice)
    services.order_place(customer=funded, product=resi_product, idempotency_key="b", actor=alice)
    _below_cost(shop_product, owner, 2000)
    client.force_login(owner)
    one, response = _get(client, reverse("billing:margin-risk"))
    assert len(response.context["risks"]) == 1
    _below_cost(resi_product, owner, 2000)
    two, response = _get(client, reverse("billing:margin-risk"))
    assert len(response.context["risks"]) == 2
    assert one == two


def test_an_owner_enters_a_phones_plan_price_on_its_page(client, owner, warsaw):
    client.force_login(owner)
    url = reverse("inventory:iproxy-connection-capacity", args=[warsaw.pk])
    response = client.post(url, {"max_ports": "4", "plan_price": "17.50"}, follow=True)
    assert response.status_code == 200
    assert iproxy_actions.phone_plan_price(warsaw) == 1750 and iproxy_actions.phone_capacity(warsaw) == 4
    assert 'value="17.50"' in response.content.decode()
