"""More GB for any residential token a customer holds, and ISP proxies sold for a fixed period with a replacement."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from billing import selectors, services
from billing.forms import ProductForm
from billing.models import Order, OrderState, Product
from integrations.unknownproxies.kinds import ISP_PROXIES, ISP_TOKEN
from inventory.assignment import resource_assign
from inventory.models import Resource, ResourceStatus
from inventory.sync import sync_account
from ops.units import GB
from providers.http import errors
from providers.registry import client_for_account

ISP_PARAMETERS = {
    "region": "US",
    "product": "TICK",
    "quantity": 2,
    "proxy_type": "http",
    "auth_type": "user",
    "duration_hours": 720,
}


@pytest.fixture
def isp_product(resi_account):
    return Product.objects.create(
        name="2 US ISP proxies, 30 days",
        kind=ISP_PROXIES,
        account=resi_account,
        parameters=ISP_PARAMETERS,
        price_cents=2400,
        renewal_price_cents=2400,
    )


@pytest.fixture
def assigned(sandbox, resi_account, funded):
    """A residential token staff gave customer A by hand (never bought in our shop)."""
    sync_account(account=resi_account)
    token = Resource.objects.get(account=resi_account, upstream_id="resiAlmost01")
    return resource_assign(resource=token, customer=funded, actor=None)


def _key(response) -> str:
    return re.findall(r'name="idempotency_key" value="([^"]+)"', response.content.decode())[0]


# More GB -----------------------------------------------------------------------------------------------


def test_a_customer_buys_more_gb_for_a_token_staff_assigned(client, alice, assigned, resi_product, funded):
    client.force_login(alice)
    page = client.get(f"/portal/proxies/{assigned.pk}/")
    assert "Buy more GB" in page.content.decode() and resi_product.renewal_price in page.content.decode()
    response = client.post(f"/portal/shop/renew/{assigned.pk}/", {"idempotency_key": _key(page)}, follow=True)
    assert "was charged" in response.content.decode()
    order = Order.objects.get(resource=assigned)
    assert order.state == OrderState.FULFILLED and order.product == resi_product
    upstream = client_for_account(assigned.account).get_resi_token("resiAlmost01")
    assert upstream.data_limit == 2 * GB + 5 * GB
    assert services.customer_balance(customer=funded) == 5000 - resi_product.renewal_price_cents


def test_the_shop_lists_staff_assigned_tokens_for_more_gb(client, alice, assigned, resi_product):
    client.force_login(alice)
    assert f'id="renew-{assigned.pk}"' in client.get("/portal/shop/").content.decode()
    assert (assigned, resi_product) in selectors.renewable_resources(customer=assigned.customer)


def test_the_cheapest_active_top_up_of_the_tokens_account_is_offered(assigned, resi_product, resi_account):
    cheaper = Product.objects.create(
        name="1 GB",
        kind=resi_product.kind,
        account=resi_account,
        parameters={"gb": 1},
        price_cents=500,
        renewal_price_cents=400,
    )
    assert selectors.renewal_product_for(resource=assigned) == cheaper
    Product.objects.filter(pk=cheaper.pk).update(active=False)
    assert selectors.renewal_product_for(resource=assigned) == resi_product


def test_no_top_up_is_offered_without_a_product_on_the_tokens_account(client, alice, assigned):
    client.force_login(alice)
    assert "Buy more GB" not in client.get(f"/portal/proxies/{assigned.pk}/").content.decode()
    with pytest.raises(services.NotRenewable):
        services.order_renew(customer=assigned.customer, resource=assigned, idempotency_key="n" * 16, actor=None)


# ISP proxies -------------------------------------------------------------------------------------------


def test_a_customer_buys_isp_proxies(sandbox, funded, isp_product):
    order = services.order_place(customer=funded, product=isp_product, idempotency_key="i" * 16, actor=None)
    assert order.state == OrderState.FULFILLED
    assert order.request == ISP_PARAMETERS
    token = order.resource
    assert token.kind == ISP_TOKEN and token.customer == funded and token.status == ResourceStatus.PROCESSING
    assert len(token.details.proxies) == 2 and token.details.region == "US"
    (call,) = sandbox.calls("POST", "/isp/token/create")
    assert b'"durationHours": 720' in call.request.body


def test_the_catalog_says_isp_proxies_are_a_fixed_period_with_a_replacement(client, alice, funded, isp_product):
    client.force_login(alice)
    text = client.get("/portal/shop/").content.decode()
    assert "2 ISP proxies in US (TICK, HTTP) for 30 days" in text
    assert "the provider cannot extend it" in text and "replacement" in text


def test_isp_proxies_are_not_renewed_and_a_replacement_is_offered_near_the_end(
    client, sandbox, alice, funded, isp_product
):
    order = services.order_place(customer=funded, product=isp_product, idempotency_key="i" * 16, actor=None)
    token = order.resource
    with pytest.raises(services.NotRenewable, match="buy a replacement"):
        services.order_renew(customer=funded, resource=token, idempotency_key="r" * 16, actor=None)
    assert all(resource != token for resource, _ in selectors.renewable_resources(customer=funded))
    client.force_login(alice)
    assert "Buy replacement" not in client.get(f"/portal/proxies/{token.pk}/").content.decode()
    Resource.objects.filter(pk=token.pk).update(expires_at=timezone.now() + dt.timedelta(days=2))
    page = client.get(f"/portal/proxies/{token.pk}/")
    assert "Buy replacement (24.00" in page.content.decode() and "cannot be extended" in page.content.decode()
    response = client.post(f"/portal/shop/buy/{isp_product.pk}/", {"idempotency_key": _key(page)}, follow=True)
    assert "was charged" in response.content.decode()
    assert Resource.objects.filter(customer=funded, kind=ISP_TOKEN).count() == 2


def test_a_lost_isp_create_is_found_by_its_parameters(sandbox, funded, isp_product):
    sandbox.control(
        "faults",
        {"rules": [{"provider": "unknownproxies", "match": "POST /isp/token/create", "kind": "lost_response"}]},
    )
    order = services.order_place(customer=funded, product=isp_product, idempotency_key="i" * 16, actor=None)
    assert order.state == OrderState.UNKNOWN
    settled = services.order_reconcile(order=order)
    assert settled.state == OrderState.FULFILLED and settled.resource.customer == funded
    assert settled.resource.kind == ISP_TOKEN


def test_a_lost_isp_create_that_never_happened_is_refunded(sandbox, funded, isp_product):
    sandbox.control(
        "faults", {"rules": [{"provider": "unknownproxies", "match": "POST /isp/token/create", "kind": "timeout"}]}
    )
    order = services.order_place(customer=funded, product=isp_product, idempotency_key="i" * 16, actor=None)
    assert services.order_reconcile(order=order).state == OrderState.FAILED
    assert services.customer_balance(customer=funded) == 5000


def test_two_matching_new_isp_tokens_keep_the_money_held(sandbox, funded, isp_product):
    sandbox.control(
        "faults",
        {"rules": [{"provider": "unknownproxies", "match": "POST /isp/token/create", "kind": "lost_response"}]},
    )
    order = services.order_place(customer=funded, product=isp_product, idempotency_key="i" * 16, actor=None)
    # Someone bought the same thing upstream meanwhile (say in the provider's console): which is ours?
    client_for_account(isp_product.account).create_isp_token("US", "TICK", 2, "http", "user", 720)
    with pytest.raises(errors.ConflictError, match="staff must decide"):
        services.order_reconcile(order=order)
    assert Order.objects.get(pk=order.pk).state == OrderState.UNKNOWN
    assert services.customer_balance(customer=funded) == 5000 - 2400


# The product form --------------------------------------------------------------------------------------


def _product_data(account, **fields) -> dict:
    base = {
        "name": "ISP",
        "kind": ISP_PROXIES,
        "account": account.pk,
        "price": "24.00",
        "renewal_price": "24.00",
        "isp_region": "US",
        "isp_product": "TICK",
        "isp_quantity": "2",
        "isp_proxy_type": "socks",
        "isp_auth_type": "ip",
        "duration_hours": "720",
    }
    return {**base, **fields}


def test_the_product_form_reads_isp_parameters(resi_account):
    form = ProductForm(_product_data(resi_account))
    assert form.is_valid(), form.errors
    assert form.parameters == {**ISP_PARAMETERS, "proxy_type": "socks", "auth_type": "ip"}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"isp_region": ""}, "isp_region", "ISP region is required."),
        ({"isp_quantity": ""}, "isp_quantity", "must be a whole number between 1 and 1000"),
        ({"isp_proxy_type": ""}, "isp_proxy_type", 'must be "http" or "socks"'),
        ({"isp_auth_type": ""}, "isp_auth_type", 'must be "user" or "ip"'),
        ({"duration_hours": "0"}, "duration_hours", "give the period"),
    ],
)
def test_the_product_form_refuses_incomplete_isp_parameters(resi_account, fields, field, message):
    form = ProductForm(_product_data(resi_account, **fields))
    assert not form.is_valid()
    assert any(message in error for error in form.errors[field]), form.errors
