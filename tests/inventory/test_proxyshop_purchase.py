"""Staff on the proxy shop: the plans page, buying (price shown, then confirmed), trials and renewals."""

from __future__ import annotations

import json
import re

import pytest

from billing import services
from billing.models import Product
from integrations.proxyshop import actions
from integrations.proxyshop.kinds import PROXY_SHOP, SHOP_PLAN, SHOP_SUBSCRIPTION
from inventory.models import Resource, ResourceStatus
from inventory.sync import sync_account
from ops.models import AuditEvent
from providers.http import errors
from providers.registry import client_for_account
from tests.factories import ProviderAccountFactory
from tests.support.pages import page

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_cache")]


@pytest.fixture
def account(sandbox):
    return ProviderAccountFactory(kind=PROXY_SHOP)


def purchases(sandbox) -> list[dict]:
    bodies = [json.loads(call.request.body) for call in sandbox.calls("POST", "/api/proxy")]
    return [body for body in bodies if body["op"] in ("purchase", "trial", "renew")]


def balance(sandbox) -> int:
    return sandbox.app.provider("shop").balance_cents


def purchase_url(account) -> str:
    return f"/staff/inventory/shop/{account.pk}/purchase/"


def fresh(client, account, **fields) -> dict:
    response = client.get(purchase_url(account) + "?plan=nlams30private")
    assert response.status_code == 200
    key = response.context["form"].initial["request_key"]
    return {"request_key": key, "plan_id": "nlams30private", "quantity": "1", "repeat_count": "1", **fields}


def confirm(client, account, data) -> tuple[dict, object]:
    """Post the choices, read the confirm step's hidden fields, and return them for the confirming post."""
    preview = client.post(purchase_url(account), data)
    assert preview.status_code == 200 and "Confirm and pay" in page(preview)
    hidden = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', preview.content.decode()))
    return hidden, preview


# Plans ---------------------------------------------------------------------------------------------------


def test_the_plans_page_marks_sold_out_and_inactive_plans(client, support, account, sandbox):
    Product.objects.create(
        name="Paris private",
        kind=SHOP_PLAN,
        account=account,
        parameters={"plan_id": "frpar30private"},
        price_cents=900,
        renewal_price_cents=900,
    )
    with pytest.raises(errors.SoldOutError):
        actions.shop_purchase(account=account, actor=support, plan_id="usnyc30private")
    client.force_login(support)
    response = client.get(f"/staff/inventory/shop/{account.pk}/plans/")
    text = page(response)
    rows = {entry.id: entry for entry in response.context["plans"]}
    assert rows["usnyc30private"].sold_out and not rows["usnyc30private"].inactive
    assert rows["frpar30private"].inactive and rows["frpar30private"].products == ("Paris private",)
    assert not rows["nlams30private"].sold_out and not rows["nlams30private"].inactive
    assert "sold out" in text and "inactive" in text and "no longer listed by the shop" in text
    assert "12.00" in text  # nlams30private's price


def test_a_customer_order_refused_as_sold_out_marks_the_plan_too(owner, account, sandbox, customer_a, celery_eager):
    product = Product.objects.create(
        name="New York",
        kind=SHOP_PLAN,
        account=account,
        parameters={"plan_id": "usnyc30private"},
        price_cents=100,
        renewal_price_cents=100,
    )
    services.balance_top_up(customer=customer_a, amount_cents=500, actor=owner)
    order = services.order_place(customer=customer_a, product=product, idempotency_key="s" * 16, actor=None)
    assert order.error_code == "sold_out"
    assert next(p for p in actions.shop_plans(account=account) if p.id == "usnyc30private").sold_out


def test_the_account_page_links_the_shop_screens(client, support, account):
    client.force_login(support)
    text = page(client.get(f"/staff/providers/{account.pk}/"))
    assert f"/staff/inventory/shop/{account.pk}/plans/" in text


# Purchase ------------------------------------------------------------------------------------------------


def test_staff_buy_with_a_coupon_after_seeing_the_price(client, owner, account, sandbox, customer_a):
    client.force_login(owner)
    before = balance(sandbox)
    data = fresh(
        client,
        account,
        quantity="2",
        repeat_count="3",
        coupon_code="WELCOME10",
        coupon_percent="10",
        customer=str(customer_a.pk),
    )
    hidden, preview = confirm(client, account, data)
    # 12.00 x 3 periods x 2 = 72.00, less 10% = 64.80; nothing is bought before the confirmation.
    assert "12.00" in page(preview) and "72.00" in page(preview) and "64.80" in page(preview)
    assert purchases(sandbox) == []
    assert hidden["confirmed_cents"] == "6480"
    response = client.post(purchase_url(account), hidden, follow=True)
    assert purchases(sandbox) == [
        {"op": "purchase", "planId": "nlams30private", "couponCode": "WELCOME10", "repeatCount": 3, "quantity": 2}
    ]
    assert before - balance(sandbox) == 6480
    bought = Resource.objects.filter(account=account, kind=SHOP_SUBSCRIPTION)
    assert bought.count() == 2 and all(r.customer == customer_a for r in bought)
    assert all(r.upstream["credentials"]["password"] for r in bought)
    assert "Bought 2 subscriptions" in page(response)
    event = AuditEvent.objects.get(action="inventory.shop.purchase")
    assert event.actor == owner and event.customer == customer_a
    assert event.data["coupon_code"] == "WELCOME10" and len(event.data["subscriptions"]) == 2


def test_one_subscription_for_stock_opens_its_page(client, support, account, sandbox):
    client.force_login(support)
    hidden, _ = confirm(client, account, fresh(client, account))
    response = client.post(purchase_url(account), hidden)
    resource = Resource.objects.get(account=account, kind=SHOP_SUBSCRIPTION)
    assert response.url == f"/staff/inventory/{resource.pk}/" and resource.customer is None


def test_an_unknown_coupon_is_refused_with_its_message_and_nothing_is_bought(client, owner, account, sandbox):
    client.force_login(owner)
    before = balance(sandbox)
    hidden, _ = confirm(client, account, fresh(client, account, coupon_code="NOSUCH"))
    response = client.post(purchase_url(account), hidden)
    assert response.status_code == 400
    assert "The shop refused this coupon: Unknown coupon code. Nothing was bought." in page(response)
    assert balance(sandbox) == before and not Resource.objects.filter(account=account).exists()
    assert not AuditEvent.objects.filter(action="inventory.shop.purchase").exists()


def test_an_expired_coupon_is_refused_too(client, owner, account, sandbox):
    client.force_login(owner)
    hidden, _ = confirm(client, account, fresh(client, account, coupon_code="SPRING20"))
    assert "Coupon code has expired" in page(client.post(purchase_url(account), hidden))
    assert not Resource.objects.filter(account=account).exists()


def test_a_confirmation_of_another_price_is_shown_again(client, owner, account, sandbox):
    client.force_login(owner)
    hidden, _ = confirm(client, account, fresh(client, account))
    response = client.post(purchase_url(account), {**hidden, "quantity": "5"})
    assert "Confirm and pay 60.00" in page(response)
    assert purchases(sandbox) == []


def test_a_resent_confirmation_buys_once(client, owner, account, sandbox):
    client.force_login(owner)
    hidden, _ = confirm(client, account, fresh(client, account))
    client.post(purchase_url(account), hidden)
    again = client.post(purchase_url(account), hidden, follow=True)
    assert len(purchases(sandbox)) == 1 and "already sent" in page(again)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"quantity": "0"}, "must be a positive whole number"),
        ({"quantity": "101"}, "must be at most 100"),
        ({"repeat_count": "0"}, "must be a positive whole number"),
        ({"repeat_count": "37"}, "must be at most 36"),
        ({"plan_id": "frpar30private"}, "is not a plan the shop sells now"),
        ({"plan_id": "NL-AMS"}, "must be lowercase letters and digits only"),
        ({"coupon_percent": "101"}, "less than or equal to 100"),
        ({"customer": "987654"}, "Select a valid choice"),
    ],
)
def test_it_refuses_bad_choices_before_sending(client, owner, account, sandbox, fields, message):
    client.force_login(owner)
    response = client.post(purchase_url(account), {**fresh(client, account), **fields, "confirmed_cents": "1200"})
    assert response.status_code == 400 and message in page(response)
    assert purchases(sandbox) == []


def test_a_sold_out_plan_is_refused_and_marked(client, owner, account, sandbox):
    client.force_login(owner)
    hidden, _ = confirm(client, account, fresh(client, account, plan_id="usnyc30private"))
    response = client.post(purchase_url(account), hidden)
    assert response.status_code == 400 and "Plan is sold out" in page(response)
    plans = client.get(f"/staff/inventory/shop/{account.pk}/plans/").context["plans"]
    assert next(p for p in plans if p.id == "usnyc30private").sold_out


def test_a_short_shop_balance_is_said_plainly(client, owner, account, sandbox):
    sandbox.control("balance", {"provider": "shop", "amount_cents": 100})
    client.force_login(owner)
    hidden, _ = confirm(client, account, fresh(client, account))
    assert "Our balance at the shop is too low" in page(client.post(purchase_url(account), hidden))


def test_a_lost_purchase_answer_is_audited_and_not_resent(client, owner, account, sandbox):
    client.force_login(owner)
    hidden, _ = confirm(client, account, fresh(client, account))
    sandbox.control("faults", {"rules": [{"provider": "shop", "match": "POST purchase", "kind": "lost_response"}]})
    response = client.post(purchase_url(account), hidden, follow=True)
    assert "may or may not have been made" in page(response)
    event = AuditEvent.objects.get(action="inventory.shop.purchase_unknown")
    assert event.data["outcome"] == "unknown" and event.target_id == str(account.pk)
    client.post(purchase_url(account), hidden)
    assert len(purchases(sandbox)) == 1
    sync_account(account=account)  # the shop did sell it: the sync brings it in, in stock
    assert Resource.objects.filter(account=account, kind=SHOP_SUBSCRIPTION).count() == 5


def test_the_plans_failing_to_load_is_a_message(client, owner, account, sandbox):
    sandbox.control(
        "faults", {"rules": [{"provider": "shop", "match": "GET plans", "kind": "status", "status": 500, "times": 10}]}
    )
    client.force_login(owner)
    response = client.get(purchase_url(account), follow=True)
    assert "Could not load the shop's plans" in page(response)


# Trial ----------------------------------------------------------------------------------------------------


def test_a_trial_the_key_may_not_have_reads_as_not_enabled(client, support, account, sandbox):
    client.force_login(support)
    response = client.post(
        f"/staff/inventory/shop/{account.pk}/trial/",
        {"plan_id": "nlams30private", "request_key": "k" * 32},
        follow=True,
    )
    shown = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert shown == [("info", "Trials are not enabled for this API key: ask the shop's support to enable them.")]
    assert not Resource.objects.filter(account=account).exists()


def test_a_trial_with_a_key_that_may(client, support, sandbox):
    account = ProviderAccountFactory(kind=PROXY_SHOP, secret="rk_sandbox_trial")
    client.force_login(support)
    client.post(f"/staff/inventory/shop/{account.pk}/trial/", {"plan_id": "nlams7shared", "request_key": "t" * 32})
    resource = Resource.objects.get(account=account, kind=SHOP_SUBSCRIPTION)
    assert resource.status == ResourceStatus.ACTIVE
    assert AuditEvent.objects.get(action="inventory.shop.trial").data["subscriptions"] == [resource.upstream_id]


# Renew ----------------------------------------------------------------------------------------------------


@pytest.fixture
def synced(account):
    sync_account(account=account)
    return account


def renew_url(resource) -> str:
    return f"/staff/inventory/{resource.pk}/shop/renew/"


def test_staff_renew_a_lapsed_subscription_after_seeing_the_price(client, support, synced, sandbox):
    resource = Resource.objects.get(account=synced, upstream_id="subnlexpired")
    assert resource.status == ResourceStatus.EXPIRED
    client.force_login(support)
    form = client.get(renew_url(resource))
    assert form.status_code == 200 and "nlams90private" in page(form)
    data = {
        "request_key": form.context["form"].initial["request_key"],
        "plan_id": "nlams30private",
        "repeat_count": "2",
        "coupon_code": "WELCOME10",
        "coupon_percent": "10",
    }
    preview = client.post(renew_url(resource), data)
    assert "Confirm and pay 21.60" in page(preview) and purchases(sandbox) == []
    response = client.post(renew_url(resource), {**data, "confirmed_cents": "2160"}, follow=True)
    assert purchases(sandbox)[0]["op"] == "renew"
    resource.refresh_from_db()
    assert resource.status == ResourceStatus.ACTIVE and "Renewed: now active until" in page(response)
    upstream = next(s for s in client_for_account(synced).subscriptions() if s.id == "subnlexpired")
    assert resource.expires_at == upstream.active_until
    event = AuditEvent.objects.get(action="inventory.shop_subscription.renew")
    assert event.data["plan_id"] == "nlams30private" and event.data["repeat_count"] == 2


def test_a_renewal_with_an_unknown_coupon_renews_nothing(client, owner, synced, sandbox):
    resource = Resource.objects.get(account=synced, upstream_id="subnlrotating")
    before = resource.expires_at
    client.force_login(owner)
    key = client.get(renew_url(resource)).context["form"].initial["request_key"]
    data = {
        "request_key": key,
        "plan_id": "nlams30private",
        "repeat_count": "1",
        "coupon_code": "BOGUS",
        "confirmed_cents": "1200",
    }
    response = client.post(renew_url(resource), data)
    assert response.status_code == 400 and "Unknown coupon code" in page(response)
    resource.refresh_from_db()
    assert resource.expires_at == before


def test_a_renewal_plan_of_another_network_is_refused(client, owner, synced, sandbox):
    resource = Resource.objects.get(account=synced, upstream_id="subnlrotating")
    client.force_login(owner)
    key = client.get(renew_url(resource)).context["form"].initial["request_key"]
    data = {"request_key": key, "plan_id": "deber30private", "repeat_count": "1", "confirmed_cents": "1500"}
    response = client.post(renew_url(resource), data)
    assert response.status_code == 400 and "is not a plan this subscription can be renewed with" in page(response)
    assert purchases(sandbox) == []


def test_a_lost_renewal_answer_is_audited_as_unknown(owner, synced, sandbox):
    resource = Resource.objects.get(account=synced, upstream_id="subnlrotating")
    sandbox.control("faults", {"rules": [{"provider": "shop", "match": "POST renew", "kind": "lost_response"}]})
    with pytest.raises(errors.UnknownOutcomeError):
        actions.subscription_renew(resource=resource, actor=owner, plan_id="nlams30private")
    assert AuditEvent.objects.filter(action="inventory.shop_subscription.renew_unknown").exists()


def test_a_gone_subscription_cannot_be_renewed(client, owner, synced, sandbox):
    resource = Resource.objects.get(account=synced, upstream_id="subnlrotating")
    Resource.objects.filter(pk=resource.pk).update(status=ResourceStatus.VANISHED)
    client.force_login(owner)
    response = client.get(renew_url(resource), follow=True)
    assert "gone upstream" in page(response) and purchases(sandbox) == []


# Roles ----------------------------------------------------------------------------------------------------


def test_customers_may_not_use_the_shop_screens(client, alice, synced, sandbox):
    resource = Resource.objects.get(account=synced, upstream_id="subnlrotating")
    client.force_login(alice)
    for address in (
        f"/staff/inventory/shop/{synced.pk}/plans/",
        purchase_url(synced),
        f"/staff/inventory/shop/{synced.pk}/trial/",
        renew_url(resource),
    ):
        assert client.get(address).status_code == 403
        assert client.post(address, {"plan_id": "nlams30private"}).status_code == 403
    assert purchases(sandbox) == []
