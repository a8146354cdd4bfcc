"""A customer buys a proxy in the portal through a real browser; the sandbox is served over real HTTP."""

from __future__ import annotations

from playwright.sync_api import expect

from billing.models import Product
from billing.services import balance_top_up, customer_balance
from tests.e2e.test_login_flow import sign_in
from tests.factories import ProviderAccountFactory


def test_a_customer_buys_a_mobile_proxy_and_sees_it_with_its_credentials(page, live_server, live_sandbox, alice):
    account = ProviderAccountFactory(name="Live shop", kind="shop", base_url=f"{live_sandbox}/shop")
    Product.objects.create(
        name="Amsterdam mobile, 30 days",
        kind="shop_plan",
        account=account,
        parameters={"plan_id": "nlams30private"},
        price_cents=1900,
        renewal_price_cents=1900,
    )
    balance_top_up(customer=alice.customer, amount_cents=5000, actor=None, note="test credit")
    sign_in(page, live_server, "alice")
    page.get_by_role("navigation").get_by_role("link", name="Shop").click()
    page.get_by_role("row").filter(has_text="Amsterdam mobile, 30 days").get_by_role("button", name="Buy").click()
    expect(page.get_by_role("status")).to_contain_text("Amsterdam mobile, 30 days")
    assert customer_balance(customer=alice.customer) == 3100
    page.get_by_role("navigation").get_by_role("link", name="My proxies").click()
    proxy = page.get_by_role("link", name="NL")
    expect(proxy.first).to_be_visible()
    proxy.first.click()
    expect(page.get_by_text("NL-AMS Amsterdam", exact=True)).to_be_visible()
