"""Staff create upstream resources through a real browser, against the sandbox served over real HTTP."""

from __future__ import annotations

import requests
from playwright.sync_api import expect

from inventory.models import Resource
from tests.e2e.test_login_flow import sign_in
from tests.factories import ProviderAccountFactory


def test_staff_create_a_residential_token_for_a_customer_and_see_its_password_once(
    page, live_server, live_sandbox, support, alice
):
    account = ProviderAccountFactory(
        name="Live Unknown Proxies", kind="unknownproxies", base_url=f"{live_sandbox}/unknownproxies/api/v1"
    )
    sign_in(page, live_server, "support")
    page.get_by_role("navigation").get_by_role("link", name="Providers").click()
    page.get_by_role("link", name="Live Unknown Proxies").click()
    page.get_by_role("link", name="New residential token").click()
    page.get_by_label("Data limit (GB)").fill("3")
    page.get_by_label("Username").fill("e2eUser1")
    page.get_by_label("Duration (hours)").fill("72")
    page.get_by_label("Customer").select_option(label=alice.customer.name)
    page.get_by_role("button", name="Create").click()

    shown = page.locator("#shown-once")
    expect(shown).to_contain_text("shows it once")
    resource = Resource.objects.get(account=account, label="e2eUser1")
    assert resource.customer == alice.customer
    password = resource.upstream["password"]
    expect(shown).to_contain_text(password)

    # Once: the token's own page keeps the password behind "Show", and a reload sends nothing again.
    page.get_by_role("link", name="Open the token").click()
    expect(page.get_by_text(password, exact=True)).not_to_be_visible()
    page.go_back()
    page.reload()
    assert Resource.objects.filter(account=account, label="e2eUser1").count() == 1


def test_staff_buy_a_shop_subscription_with_a_coupon(page, live_server, live_sandbox, owner, alice):
    account = ProviderAccountFactory(name="Live shop", kind="shop", base_url=f"{live_sandbox}/shop")
    requests.post(f"{live_sandbox}/_sandbox/balance", json={"provider": "shop", "amount_cents": 10_000}, timeout=5)
    sign_in(page, live_server, "owner")
    page.goto(f"{live_server.url}/staff/providers/{account.pk}/")
    page.get_by_role("link", name="Plans").click()
    expect(page.locator("#plan-usnyc30private")).to_be_visible()
    page.locator("#plan-nlams30private").get_by_role("link", name="Buy").click()
    page.get_by_label("How many").fill("2")
    page.get_by_label("Periods").fill("3")
    page.get_by_label("Coupon", exact=True).fill("WELCOME10")
    page.get_by_label("Coupon discount (%)").fill("10")
    page.get_by_label("Customer").select_option(label=alice.customer.name)
    page.get_by_role("button", name="Show the price").click()

    confirm = page.locator("#confirm")
    expect(confirm).to_contain_text("72.00")
    expect(confirm).to_contain_text("64.80")
    assert not Resource.objects.filter(account=account).exists()
    page.get_by_role("button", name="Confirm and pay 64.80").click()

    expect(page.get_by_role("status")).to_contain_text("Bought 2 subscriptions")
    bought = Resource.objects.filter(account=account, customer=alice.customer)
    assert bought.count() == 2
