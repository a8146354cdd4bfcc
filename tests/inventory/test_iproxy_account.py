"""Staff read an iProxy account's user info and balance; owners update its basic info."""

from __future__ import annotations

import json

import pytest

from integrations.iproxy.kinds import IPROXY
from ops.models import AuditEvent
from providers.registry import client_for_account
from tests.factories import ProviderAccountFactory
from tests.support.pages import page

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(sandbox):
    return ProviderAccountFactory(kind=IPROXY)


def updates(sandbox) -> list:
    return sandbox.calls("POST", "/me/update-basic-info")


def test_staff_see_the_user_info_and_balance(client, support, account, sandbox):
    me = client_for_account(account).me()
    client.force_login(support)
    response = client.get(f"/staff/inventory/iproxy/{account.pk}/account/")
    text = page(response)
    assert response.status_code == 200 and str(me.balance) in text and me.username in text
    assert "Basic info" not in text  # owners only


def test_the_account_page_links_it(client, support, account):
    client.force_login(support)
    assert f"/staff/inventory/iproxy/{account.pk}/account/" in page(client.get(f"/staff/providers/{account.pk}/"))


def test_owners_update_the_basic_info_sending_only_what_changed(client, owner, account, sandbox):
    client.force_login(owner)
    current = client.get(f"/staff/inventory/iproxy/{account.pk}/account/").context["form"].initial
    data = {**current, "telegram": "@resellerops"}
    response = client.post(f"/staff/inventory/iproxy/{account.pk}/account/update/", data, follow=True)
    (call,) = updates(sandbox)
    assert json.loads(call.request.body) == {"telegram": "@resellerops"}
    assert client_for_account(account).me().telegram == "@resellerops"
    assert "Saved: Telegram." in page(response)
    event = AuditEvent.objects.get(action="iproxy.account.update_basic_info")
    assert event.actor == owner and event.data == {"fields": ["telegram"], "telegram": "@resellerops"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [({}, "Nothing to change."), ({"display_name": "x" * 257}, "at most 256 characters")],
)
def test_it_refuses_an_update_that_changes_nothing_or_is_too_long(client, owner, account, sandbox, fields, message):
    client.force_login(owner)
    current = client.get(f"/staff/inventory/iproxy/{account.pk}/account/").context["form"].initial
    response = client.post(f"/staff/inventory/iproxy/{account.pk}/account/update/", {**current, **fields})
    assert response.status_code == 400 and message in page(response)
    assert updates(sandbox) == []


def test_an_upstream_refusal_and_a_lost_answer_are_messages(client, owner, account, sandbox):
    client.force_login(owner)
    address = f"/staff/inventory/iproxy/{account.pk}/account/update/"
    sandbox.control(
        "faults",
        {"rules": [{"provider": "iproxy", "match": "POST /me/update-basic-info", "kind": "status", "status": 400}]},
    )
    refused = client.post(address, {"display_name": "Ops"}, follow=True)
    assert "iProxy refused the change" in page(refused)
    sandbox.control(
        "faults", {"rules": [{"provider": "iproxy", "match": "POST /me/update-basic-info", "kind": "lost_response"}]}
    )
    lost = client.post(address, {"display_name": "Ops"}, follow=True)
    assert "could not confirm the change" in page(lost)
    assert AuditEvent.objects.filter(action="iproxy.account.update_basic_info_unknown").exists()


def test_support_and_customers_may_not_update_it(client, support, alice, account, sandbox):
    for user in (support, alice):
        client.force_login(user)
        assert (
            client.post(f"/staff/inventory/iproxy/{account.pk}/account/update/", {"telegram": "@x"}).status_code == 403
        )
    assert client.get(f"/staff/inventory/iproxy/{account.pk}/account/").status_code == 403  # alice
    assert updates(sandbox) == []


def test_an_unreadable_account_is_a_message(client, support, sandbox):
    account = ProviderAccountFactory(kind=IPROXY, secret="wrong-key")
    client.force_login(support)
    response = client.get(f"/staff/inventory/iproxy/{account.pk}/account/", follow=True)
    assert "Could not read the account from iProxy" in page(response)
