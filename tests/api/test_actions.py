"""The portal's self-service actions through the customer API: ISP settings, phone proxies' credentials and IP."""

from __future__ import annotations

import pytest

from integrations.iproxy.kinds import IPROXY, IPROXY_CONNECTION
from integrations.unknownproxies.kinds import UNKNOWN_PROXIES
from inventory import assignment
from inventory.models import Resource
from inventory.sync import sync_account
from ops.models import AuditEvent
from providers.registry import client_for_account
from tests.factories import ProviderAccountFactory

PROBLEM = "application/problem+json"
pytestmark = pytest.mark.usefixtures("private_cache")


@pytest.fixture
def isp(sandbox, alice):
    account = ProviderAccountFactory(kind=UNKNOWN_PROXIES)
    sync_account(account=account)
    resource = Resource.objects.get(account=account, upstream_id="ispActive001")
    resource.customer = alice.customer
    resource.save(update_fields=["customer"])
    return resource


@pytest.fixture
def access(sandbox, alice):
    account = ProviderAccountFactory(kind=IPROXY)
    sync_account(account=account)
    phone = Resource.objects.get(account=account, kind=IPROXY_CONNECTION, label="online with plan")
    access = next(c for c in phone.children.all() if c.upstream.get("description") == "main http proxy")
    return assignment.resource_assign(resource=access, customer=alice.customer, actor=None)


def post(client, resource, name, body=None):
    url = f"/api/proxies/{resource.pk}/actions/{name}"
    return client.post(url, body, content_type="application/json") if body is not None else client.post(url)


def test_a_customer_whitelists_ips_on_their_isp_token(alice_writer, alice, isp):
    response = post(alice_writer, isp, "isp-settings", {"auth_type": "ip", "authenticated_ips": ["203.0.113.50"]})
    assert response.status_code == 200, response.content
    assert response.json()["message"] == "Saved: authentication, whitelisted IPs."
    upstream = client_for_account(isp.account).get_isp_token("ispActive001")
    assert (upstream.auth_type, upstream.authenticated_ips) == ("ip", ("203.0.113.50",))
    assert response.json()["proxy"]["id"] == isp.pk
    event = AuditEvent.objects.get(action="inventory.isp_token.modify")
    assert event.actor == alice and event.customer == alice.customer


def test_the_isp_rules_answer_a_422_and_nothing_is_sent(alice_writer, isp, sandbox):
    before = len(sandbox.calls())
    response = post(alice_writer, isp, "isp-settings", {"auth_type": "ip", "authenticated_ips": ["not-an-ip"]})
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM
    assert response.json()["errors"][0]["field"] == "authenticated_ips"
    response = post(alice_writer, isp, "isp-settings", {"proxy_type": "ftp"})
    assert response.status_code == 422
    assert len(sandbox.calls()) == before


def test_a_customer_changes_their_phone_proxys_ip_once_a_while(alice_writer, alice, access, sandbox):
    first = post(alice_writer, access, "change-ip")
    assert first.status_code == 200, first.content
    assert "changing its IP" in first.json()["message"]
    again = post(alice_writer, access, "change-ip")
    assert again.status_code == 409 and again["Content-Type"] == PROBLEM
    assert "seconds" in again.json()["detail"]
    assert AuditEvent.objects.filter(action="iproxy.access.change_ip", actor=alice).count() == 1


def test_a_customer_gets_new_credentials_for_their_phone_proxy(alice_writer, access):
    before = {c["label"]: c["value"] for c in alice_writer.get(f"/api/proxies/{access.pk}").json()["credentials"]}
    response = post(alice_writer, access, "new-credentials")
    assert response.status_code == 200, response.content
    after = {c["label"]: c["value"] for c in response.json()["proxy"]["credentials"]}
    assert after != before


def test_a_phone_proxys_connection_is_checked_and_changed(alice_writer, access):
    bad = post(alice_writer, access, "connection", {"listen_service": "gopher"})
    assert bad.status_code == 422
    good = post(alice_writer, access, "connection", {"listen_service": "socks5", "allowed_ips": ["203.0.113.9"]})
    assert good.status_code == 200, good.content
    access.refresh_from_db()
    assert access.details.listen_service == "socks5"


def test_an_isp_token_has_no_phone_actions(alice_writer, isp):
    assert post(alice_writer, isp, "change-ip").status_code == 404
    names = [a["name"] for a in alice_writer.get(f"/api/proxies/{isp.pk}/actions").json()]
    assert names == ["isp-settings"]
