"""Staff create Unknown Proxies tokens on a provider account and re-read one token from upstream."""

from __future__ import annotations

import json

import pytest

from integrations.unknownproxies import actions
from integrations.unknownproxies.kinds import ISP_TOKEN, RESI_TOKEN, UNKNOWN_PROXIES
from inventory.models import Resource, ResourceStatus
from inventory.sync import sync_account
from ops.models import AuditEvent
from ops.units import GB
from providers.http import errors
from providers.registry import client_for_account
from tests.factories import ProviderAccountFactory
from tests.support.pages import page

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_cache")]


@pytest.fixture
def account(sandbox):
    return ProviderAccountFactory(kind=UNKNOWN_PROXIES)


def creates(sandbox, path: str) -> list:
    return sandbox.calls("POST", path)


def resi_form(client, account) -> dict:
    response = client.get(f"/staff/inventory/unknownproxies/{account.pk}/resi/new/")
    assert response.status_code == 200
    return {"request_key": response.context["form"].initial["request_key"]}


# Residential ---------------------------------------------------------------------------------------------


def test_staff_create_a_residential_token_for_a_customer_and_see_the_password_once(
    client, owner, account, sandbox, customer_a
):
    client.force_login(owner)
    data = {**resi_form(client, account), "data_limit_gb": "5", "username": "abcd1234", "duration_hours": "48"}
    response = client.post(
        f"/staff/inventory/unknownproxies/{account.pk}/resi/new/", {**data, "customer": customer_a.pk}
    )
    assert response.status_code == 200
    resource = Resource.objects.get(account=account, kind=RESI_TOKEN, label="abcd1234")
    upstream = client_for_account(account).get_resi_token(resource.upstream_id)
    assert upstream.data_limit == 5 * GB and upstream.duration_hours == 48
    assert resource.customer == customer_a and resource.data_limit_bytes == 5 * GB
    assert upstream.password in page(response) and "shows it once" in page(response)
    event = AuditEvent.objects.get(action="inventory.resi_token.create")
    assert event.actor == owner and event.customer == customer_a
    assert event.data["data_limit_gb"] == 5 and event.data["token"] == resource.upstream_id
    audit_text = json.dumps([e.data for e in AuditEvent.objects.all()])
    assert upstream.password not in audit_text and "abcd1234" not in audit_text
    assert AuditEvent.objects.filter(action="inventory.assign", target_id=str(resource.pk)).exists()


def test_a_resent_create_form_creates_nothing_more(client, owner, account, sandbox):
    client.force_login(owner)
    data = {**resi_form(client, account), "data_limit_gb": "1", "duration_hours": "0"}
    address = f"/staff/inventory/unknownproxies/{account.pk}/resi/new/"
    first = client.post(address, data)
    assert first.status_code == 200
    again = client.post(address, data, follow=True)
    assert len(creates(sandbox, "/resi/token/create")) == 1
    assert "already sent" in page(again)
    assert again.redirect_chain[-1][0].startswith("/staff/inventory/")


def test_a_generated_username_is_eight_letters_or_digits_and_the_token_stays_in_stock(
    client, support, account, sandbox
):
    client.force_login(support)
    data = {**resi_form(client, account), "data_limit_gb": "2", "duration_hours": "0"}
    assert client.post(f"/staff/inventory/unknownproxies/{account.pk}/resi/new/", data).status_code == 200
    (call,) = creates(sandbox, "/resi/token/create")
    assert json.loads(call.request.body) == {"dataLimit": 2 * GB, "durationHours": 0}
    resource = Resource.objects.get(account=account, kind=RESI_TOKEN)
    assert len(resource.label) == 8 and resource.label.isalnum() and resource.customer is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"data_limit_gb": "0"}, "greater than or equal to 1"),
        ({"data_limit_gb": "1.5"}, "Enter a whole number"),
        ({"data_limit_gb": ""}, "This field is required"),
        ({"username": "short"}, "exactly 8 letters or digits"),
        ({"username": "abcd-123"}, "exactly 8 letters or digits"),
        ({"username": "abcdefghi"}, "exactly 8 letters or digits"),
        ({"duration_hours": "-1"}, "between 0 and 87600"),
        ({"duration_hours": "87601"}, "between 0 and 87600"),
    ],
)
def test_it_refuses_a_bad_residential_token_before_sending(client, owner, account, sandbox, fields, message):
    client.force_login(owner)
    data = {**resi_form(client, account), "data_limit_gb": "1", "duration_hours": "0", **fields}
    response = client.post(f"/staff/inventory/unknownproxies/{account.pk}/resi/new/", data)
    assert response.status_code == 400 and message in page(response)
    assert creates(sandbox, "/resi/token/create") == []


def test_an_upstream_refusal_is_shown_and_the_form_can_be_sent_again(client, owner, account, sandbox):
    client.force_login(owner)
    sandbox.control(
        "faults",
        {
            "rules": [
                {
                    "provider": "unknownproxies",
                    "match": "POST /resi/token/create",
                    "kind": "status",
                    "status": 400,
                    "times": 1,
                }
            ]
        },
    )
    data = {**resi_form(client, account), "data_limit_gb": "1", "duration_hours": "0"}
    address = f"/staff/inventory/unknownproxies/{account.pk}/resi/new/"
    refused = client.post(address, data)
    assert refused.status_code == 400 and "Unknown Proxies refused" in page(refused)
    assert not Resource.objects.filter(account=account).exists()
    assert client.post(address, data).status_code == 200
    assert Resource.objects.filter(account=account, kind=RESI_TOKEN).count() == 1


def test_a_lost_create_answer_is_audited_as_unknown_and_not_resent(client, owner, account, sandbox, customer_a):
    client.force_login(owner)
    sandbox.control(
        "faults",
        {"rules": [{"provider": "unknownproxies", "match": "POST /resi/token/create", "kind": "lost_response"}]},
    )
    data = {**resi_form(client, account), "data_limit_gb": "1", "duration_hours": "0", "customer": customer_a.pk}
    address = f"/staff/inventory/unknownproxies/{account.pk}/resi/new/"
    response = client.post(address, data, follow=True)
    assert "may or may not have been created" in page(response)
    event = AuditEvent.objects.get(action="inventory.resi_token.create_unknown")
    assert event.data["outcome"] == "unknown" and event.customer == customer_a
    client.post(address, data, follow=True)
    assert len(creates(sandbox, "/resi/token/create")) == 1
    # The provider did create it: the next sync finds it (in stock, for staff to assign).
    sync_account(account=account)
    assert Resource.objects.filter(account=account, kind=RESI_TOKEN).count() == 6


def test_customers_cannot_create_tokens(client, alice, account, sandbox):
    client.force_login(alice)
    address = f"/staff/inventory/unknownproxies/{account.pk}/resi/new/"
    assert client.get(address).status_code == 403
    assert client.post(address, {"data_limit_gb": "1"}).status_code == 403
    assert client.get(f"/staff/inventory/unknownproxies/{account.pk}/isp/new/").status_code == 403
    assert sandbox.calls("POST") == []


def test_it_answers_404_for_another_providers_account(client, owner, sandbox):
    client.force_login(owner)
    shop = ProviderAccountFactory(kind="shop")
    assert client.get(f"/staff/inventory/unknownproxies/{shop.pk}/resi/new/").status_code == 404


def test_the_account_page_links_the_create_screens(client, support, account):
    client.force_login(support)
    text = page(client.get(f"/staff/providers/{account.pk}/"))
    assert f"/staff/inventory/unknownproxies/{account.pk}/resi/new/" in text
    assert f"/staff/inventory/unknownproxies/{account.pk}/isp/new/" in text


# ISP ----------------------------------------------------------------------------------------------------


def isp_data(client, account, **fields) -> dict:
    response = client.get(f"/staff/inventory/unknownproxies/{account.pk}/isp/new/")
    base = {
        "request_key": response.context["form"].initial["request_key"],
        "region": "US",
        "product": "TICK",
        "quantity": "3",
        "proxy_type": "socks",
        "auth_type": "ip",
        "duration_hours": "720",
    }
    return {**base, **fields}


def test_staff_create_an_isp_token_that_starts_processing(client, owner, account, sandbox, customer_b):
    client.force_login(owner)
    data = isp_data(client, account, customer=customer_b.pk)
    response = client.post(f"/staff/inventory/unknownproxies/{account.pk}/isp/new/", data)
    assert response.status_code == 200 and "becomes active in about 10 minutes" in page(response)
    (call,) = creates(sandbox, "/isp/token/create")
    assert json.loads(call.request.body) == {
        "region": "US",
        "product": "TICK",
        "quantity": 3,
        "proxyType": "socks",
        "authType": "ip",
        "durationHours": 720,
    }
    resource = Resource.objects.get(account=account, kind=ISP_TOKEN)
    assert resource.status == ResourceStatus.PROCESSING and resource.customer == customer_b
    assert len(resource.details.proxies) == 3
    event = AuditEvent.objects.get(action="inventory.isp_token.create")
    assert event.data["quantity"] == 3 and event.customer == customer_b


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"quantity": "0"}, "between 1 and 1000"),
        ({"quantity": "1001"}, "between 1 and 1000"),
        ({"region": "  "}, "This field is required"),
        ({"product": ""}, "This field is required"),
        ({"proxy_type": "https"}, "Select a valid choice"),
        ({"auth_type": "token"}, "Select a valid choice"),
        ({"duration_hours": "87601"}, "between 0 and 87600"),
    ],
)
def test_it_refuses_a_bad_isp_token_before_sending(client, owner, account, sandbox, fields, message):
    client.force_login(owner)
    response = client.post(
        f"/staff/inventory/unknownproxies/{account.pk}/isp/new/", isp_data(client, account, **fields)
    )
    assert response.status_code == 400 and message in page(response)
    assert creates(sandbox, "/isp/token/create") == []


def test_a_lost_isp_create_is_audited_as_unknown(owner, account, sandbox):
    sandbox.control(
        "faults",
        {"rules": [{"provider": "unknownproxies", "match": "POST /isp/token/create", "kind": "lost_response"}]},
    )
    with pytest.raises(errors.UnknownOutcomeError):
        actions.isp_token_create(
            account=account,
            actor=owner,
            region="US",
            product="TICK",
            quantity=1,
            proxy_type="http",
            auth_type="user",
            duration_hours=24,
        )
    assert AuditEvent.objects.filter(action="inventory.isp_token.create_unknown").exists()


# Refresh ------------------------------------------------------------------------------------------------


def test_staff_refresh_one_token_from_upstream(client, support, account, sandbox):
    sync_account(account=account)
    resource = Resource.objects.get(account=account, upstream_id="resiActive01")
    sandbox.control("usage", {"token": "resiActive01", "bytes": 3 * GB})
    before = resource.data_used_bytes
    client.force_login(support)
    response = client.post(f"/staff/inventory/{resource.pk}/unknownproxies/resi/refresh/", follow=True)
    resource.refresh_from_db()
    assert resource.data_used_bytes == before + 3 * GB
    assert "Re-read from Unknown Proxies: active." in page(response)
    event = AuditEvent.objects.get(action="inventory.resi_token.refresh")
    assert event.actor == support and event.data == {"found": True, "status": "active"}


def test_refreshing_an_isp_token_that_became_active(client, owner, account, sandbox):
    sync_account(account=account)
    resource = Resource.objects.get(account=account, upstream_id="ispProcess01")
    assert resource.status == ResourceStatus.PROCESSING
    sandbox.control("clock", {"advance_seconds": 900})
    client.force_login(owner)
    client.post(f"/staff/inventory/{resource.pk}/unknownproxies/isp/refresh/")
    resource.refresh_from_db()
    assert resource.status == ResourceStatus.ACTIVE


def test_a_token_gone_upstream_is_marked_so(client, owner, account, sandbox):
    sync_account(account=account)
    resource = Resource.objects.get(account=account, upstream_id="resiActive01")
    sandbox.app.provider("unknownproxies").resi.pop("resiActive01")
    client.force_login(owner)
    response = client.post(f"/staff/inventory/{resource.pk}/unknownproxies/resi/refresh/", follow=True)
    resource.refresh_from_db()
    assert resource.status == ResourceStatus.VANISHED and "no longer knows this token" in page(response)


def test_a_failed_refresh_is_a_message(client, owner, account, sandbox):
    sync_account(account=account)
    resource = Resource.objects.get(account=account, upstream_id="resiActive01")
    sandbox.control(
        "faults",
        {
            "rules": [
                {"provider": "unknownproxies", "match": "GET /resi/token", "kind": "status", "status": 503, "times": 10}
            ]
        },
    )
    client.force_login(owner)
    response = client.post(f"/staff/inventory/{resource.pk}/unknownproxies/resi/refresh/", follow=True)
    assert "Could not read the token" in page(response)
    assert not AuditEvent.objects.filter(action="inventory.resi_token.refresh").exists()


def test_refresh_is_post_only_and_staff_only(client, alice, owner, account, sandbox):
    sync_account(account=account)
    resource = Resource.objects.get(account=account, upstream_id="resiActive01")
    client.force_login(owner)
    assert client.get(f"/staff/inventory/{resource.pk}/unknownproxies/resi/refresh/").status_code == 405
    client.force_login(alice)
    assert client.post(f"/staff/inventory/{resource.pk}/unknownproxies/resi/refresh/").status_code == 403
