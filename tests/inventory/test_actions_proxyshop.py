"""Staff and customers act on proxy shop subscriptions: credentials, rotation, rotate now, switch network."""

from __future__ import annotations

import pytest

from integrations.proxyshop import actions
from integrations.proxyshop.kinds import PROXY_SHOP
from inventory.models import Resource, ResourceStatus
from inventory.sync import sync_account
from ops.models import AuditEvent
from providers.http import errors
from providers.registry import client_for_account
from tests.factories import ProviderAccountFactory
from tests.support.pages import page


@pytest.fixture
def account(sandbox):
    account = ProviderAccountFactory(kind=PROXY_SHOP)
    sync_account(account=account)
    return account


def subscription(account, upstream_id: str, customer=None) -> Resource:
    resource = Resource.objects.get(account=account, upstream_id=upstream_id)
    if customer is not None:
        resource.customer = customer
        resource.save(update_fields=["customer"])
    return resource


def upstream(account, upstream_id: str):
    return next(s for s in client_for_account(account).subscriptions() if s.id == upstream_id)


def writes(sandbox) -> list:
    """Every call that could change something: the POST ops and the rotate link."""
    return [call for call in sandbox.calls() if call.request.method == "POST" or "/shop/r/" in call.request.url]


# Rotate now -----------------------------------------------------------------------------------------


def test_staff_rotate_the_ip_now(client, owner, account, sandbox):
    resource = subscription(account, "subnlrotating")
    before = resource.upstream["currentIp"]
    client.force_login(owner)
    response = client.post(f"/staff/inventory/{resource.pk}/shop/rotate/", follow=True)
    resource.refresh_from_db()
    after = resource.upstream["currentIp"]
    assert after != before
    assert upstream(account, "subnlrotating").raw["currentIp"] == after
    assert f"The IP was changed: now {after}." in page(response)
    event = AuditEvent.objects.get(action="inventory.shop_subscription.rotate")
    assert event.actor == owner and event.data == {"ip": after}
    # The link is its own authority: it is followed without our API key.
    (rotate_call,) = [call for call in sandbox.calls("GET") if "/shop/r/" in call.request.url]
    assert "x-api-key" not in {key.lower() for key in rotate_call.request.headers}


def test_a_lost_rotate_answer_is_audited_as_unknown_and_sent_once(owner, account, sandbox):
    resource = subscription(account, "subnlrotating")
    before = resource.upstream["currentIp"]
    link = resource.upstream["rotate"]["rotatePath"]
    sandbox.control("faults", {"rules": [{"provider": "shop", "match": f"GET {link}", "kind": "lost_response"}]})
    with pytest.raises(errors.UnknownOutcomeError):
        actions.subscription_rotate_now(resource=resource, actor=owner)
    assert len([call for call in sandbox.calls("GET") if "/shop/r/" in call.request.url]) == 1
    event = AuditEvent.objects.get(action="inventory.shop_subscription.rotate_unknown")
    assert event.actor == owner and event.data["outcome"] == "unknown"
    assert not AuditEvent.objects.filter(action="inventory.shop_subscription.rotate").exists()
    assert upstream(account, "subnlrotating").raw["currentIp"] != before  # the shop did rotate


def test_a_customer_rotates_their_ip_and_never_sees_the_rotate_link(client, alice, account):
    resource = subscription(account, "subnlrotating", alice.customer)
    link = resource.upstream["rotate"]["rotatePath"]
    rotate_id = link.rsplit("/", 1)[-1]
    before = resource.upstream["currentIp"]
    client.force_login(alice)
    pages = [
        client.get("/portal/"),
        client.get(f"/portal/proxies/{resource.pk}/"),
        client.get(f"/portal/proxies/{resource.pk}/shop/rotation/"),
        client.get(f"/portal/proxies/{resource.pk}/shop/network/"),
        client.get("/portal/proxies/export.csv"),
        client.get("/portal/proxies/export.txt"),
    ]
    response = client.post(f"/portal/proxies/{resource.pk}/shop/rotate/", follow=True)
    pages.append(response)
    assert "The IP was changed" in page(response)
    for shown in pages:
        assert shown.status_code == 200
        body = b"".join(shown.streaming_content) if shown.streaming else shown.content
        assert rotate_id not in body.decode()
    resource.refresh_from_db()
    assert resource.upstream["currentIp"] != before
    assert AuditEvent.objects.get(action="inventory.shop_subscription.rotate").actor == alice


def test_it_refuses_to_rotate_a_subscription_without_rotation(client, alice, account, sandbox):
    resource = subscription(account, "subdestatic", alice.customer)
    client.force_login(alice)
    response = client.post(f"/portal/proxies/{resource.pk}/shop/rotate/", follow=True)
    assert "IP rotation is not available for this subscription" in page(response)
    assert writes(sandbox) == []


# New credentials ------------------------------------------------------------------------------------


def test_a_customer_gets_new_credentials(client, alice, account):
    resource = subscription(account, "subdestatic", alice.customer)
    old = resource.upstream["credentials"]["password"]
    client.force_login(alice)
    response = client.post(f"/portal/proxies/{resource.pk}/shop/credentials/", follow=True)
    assert "New credentials issued" in page(response)
    new = upstream(account, "subdestatic").credentials.password
    assert new != old
    resource.refresh_from_db()
    assert resource.upstream["credentials"]["password"] == new
    assert new in resource.upstream["protocols"]["http"]
    event = AuditEvent.objects.get(action="inventory.shop_subscription.change_credentials")
    assert event.actor == alice and event.customer == alice.customer
    assert new not in str(event.data) and old not in str(event.data)


def test_new_credentials_are_kept_even_when_the_mirror_had_none(alice, account, sandbox):
    # A purchase answer may leave the credentials out; the new password must still be kept (the old one is dead),
    # even if the read-back after the change fails too.
    resource = subscription(account, "subdestatic", alice.customer)
    Resource.objects.filter(pk=resource.pk).update(upstream={**resource.upstream, "credentials": None})
    resource.refresh_from_db()
    sandbox.control(
        "faults",
        {"rules": [{"provider": "shop", "match": "GET subscriptions", "kind": "status", "status": 503, "times": 5}]},
    )
    actions.subscription_change_credentials(resource=resource, actor=alice)
    resource.refresh_from_db()
    assert resource.upstream["credentials"]["password"] == upstream(account, "subdestatic").credentials.password


def test_it_says_when_new_credentials_are_unconfirmed_and_audits_it(client, support, account, sandbox):
    resource = subscription(account, "subdestatic")
    old = resource.upstream["credentials"]["password"]
    sandbox.control(
        "faults", {"rules": [{"provider": "shop", "match": "POST change-credentials", "kind": "lost_response"}]}
    )
    client.force_login(support)
    response = client.post(f"/staff/inventory/{resource.pk}/shop/credentials/", follow=True)
    assert "We could not confirm the change" in page(response)
    event = AuditEvent.objects.get(action="inventory.shop_subscription.change_credentials_unknown")
    assert event.actor == support and event.data["outcome"] == "unknown"
    assert "next sync will show the truth" in event.data["note"]
    assert upstream(account, "subdestatic").credentials.password != old
    assert not AuditEvent.objects.filter(action="inventory.shop_subscription.change_credentials").exists()


# Rotation policy --------------------------------------------------------------------------------------


@pytest.mark.parametrize("minutes", [0, 5, 60])
def test_support_staff_set_the_rotation_policy(client, support, account, minutes):
    resource = subscription(account, "subnlrotating")
    client.force_login(support)
    form = page(client.get(f"/staff/inventory/{resource.pk}/shop/rotation/"))
    assert "every 30 minutes" in form
    response = client.post(f"/staff/inventory/{resource.pk}/shop/rotation/", {"rotation_policy": minutes}, follow=True)
    expected = f"The IP now rotates every {minutes} minutes." if minutes else "Auto-rotation is off."
    assert expected in page(response)
    assert upstream(account, "subnlrotating").rotation_policy == minutes
    resource.refresh_from_db()
    assert resource.upstream["rotationPolicy"] == minutes
    assert AuditEvent.objects.get(action="inventory.shop_subscription.set_rotation").data == {"minutes": minutes}


@pytest.mark.parametrize("minutes", ["7", "-5", "120", "ten", ""])
def test_it_refuses_a_rotation_policy_outside_the_rule(client, alice, account, sandbox, minutes):
    resource = subscription(account, "subnlrotating", alice.customer)
    client.force_login(alice)
    response = client.post(f"/portal/proxies/{resource.pk}/shop/rotation/", {"rotation_policy": minutes})
    assert response.status_code == 200
    shown = page(response)
    if minutes.lstrip("-").isdigit():
        assert "must be one of 0, 5, 10, 15, 30, 60 minutes" in shown
    else:
        assert "This field is required" in shown or "Enter a whole number" in shown
    assert writes(sandbox) == []


def test_it_shows_the_shops_message_when_rotation_is_unavailable(client, alice, account, sandbox):
    resource = subscription(account, "subdestatic", alice.customer)
    client.force_login(alice)
    response = client.post(f"/portal/proxies/{resource.pk}/shop/rotation/", {"rotation_policy": 5}, follow=True)
    assert "Rotation policy not available for this subscription" in page(response)
    assert len(writes(sandbox)) == 1
    assert not AuditEvent.objects.filter(action__startswith="inventory.shop_subscription").exists()


# Switch network -----------------------------------------------------------------------------------------


def test_a_customer_switches_network(client, alice, account):
    resource = subscription(account, "subnlrotating", alice.customer)
    before_ip = resource.upstream["currentIp"]
    client.force_login(alice)
    form = page(client.get(f"/portal/proxies/{resource.pk}/shop/network/"))
    assert 'value="netdeber"' in form and 'value="netnlams"' not in form and 'value="netfrpar"' not in form
    response = client.post(f"/portal/proxies/{resource.pk}/shop/network/", {"target_network": "netdeber"}, follow=True)
    shown = page(response)
    assert "Switched to DE-BER" in shown
    assert upstream(account, "subnlrotating").network_label.startswith("DE-BER")
    resource.refresh_from_db()
    assert resource.upstream["networkLabel"].startswith("DE-BER") and resource.upstream["currentIp"] != before_ip
    event = AuditEvent.objects.get(action="inventory.shop_subscription.switch_network")
    assert event.data["target_network"] == "netdeber" and event.actor == alice


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("netfrpar", "is not a network this subscription can switch to"),
        ("netnlams", "is not a network this subscription can switch to"),
        ("NetDeBer", "must be lowercase letters and digits only"),
        ("", "This field is required"),
    ],
)
def test_it_refuses_a_network_that_is_not_offered(client, owner, account, sandbox, target, message):
    resource = subscription(account, "subnlrotating")
    client.force_login(owner)
    response = client.post(f"/staff/inventory/{resource.pk}/shop/network/", {"target_network": target})
    assert message in page(response)
    assert writes(sandbox) == []


# Who may act, and on what ---------------------------------------------------------------------------------


def test_it_refuses_an_expired_or_vanished_subscription_before_calling_the_shop(client, owner, account, sandbox):
    expired = subscription(account, "subnlexpired")
    assert expired.status == ResourceStatus.EXPIRED
    client.force_login(owner)
    response = client.post(f"/staff/inventory/{expired.pk}/shop/credentials/", follow=True)
    assert "this subscription has expired: renew it before changing it" in page(response)
    gone = subscription(account, "subdestatic")
    Resource.objects.filter(pk=gone.pk).update(status=ResourceStatus.VANISHED)
    response = client.post(f"/staff/inventory/{gone.pk}/shop/rotate/", follow=True)
    assert "this subscription is gone upstream" in page(response)
    assert writes(sandbox) == []


@pytest.mark.parametrize("action", ["credentials", "rotation", "rotate", "network"])
def test_a_customer_cannot_act_on_another_customers_subscription(client, bob, alice, account, sandbox, action):
    resource = subscription(account, "subnlrotating", alice.customer)
    client.force_login(bob)
    assert client.post(f"/portal/proxies/{resource.pk}/shop/{action}/", {"rotation_policy": 5}).status_code == 404
    client.force_login(alice)
    assert client.post(f"/staff/inventory/{resource.pk}/shop/{action}/", {"rotation_policy": 5}).status_code == 403
    assert writes(sandbox) == []


def test_actions_are_post_only(client, alice, account):
    resource = subscription(account, "subnlrotating", alice.customer)
    client.force_login(alice)
    assert client.get(f"/portal/proxies/{resource.pk}/shop/rotate/").status_code == 405
    assert client.get(f"/portal/proxies/{resource.pk}/shop/credentials/").status_code == 405


def test_the_detail_pages_offer_the_actions(client, owner, alice, account):
    resource = subscription(account, "subnlrotating", alice.customer)
    client.force_login(alice)
    portal = page(client.get(f"/portal/proxies/{resource.pk}/"))
    for action in ("credentials", "rotation", "rotate", "network"):
        assert f"/portal/proxies/{resource.pk}/shop/{action}/" in portal
    client.force_login(owner)
    staff = page(client.get(f"/staff/inventory/{resource.pk}/"))
    for action in ("credentials", "rotation", "rotate", "network"):
        assert f"/staff/inventory/{resource.pk}/shop/{action}/" in staff
