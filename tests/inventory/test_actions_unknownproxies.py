"""Staff modify Unknown Proxies tokens; customers change their own ISP tokens' access settings in the portal."""

from __future__ import annotations

import sys

import pytest

from integrations.unknownproxies import client as client_module
from integrations.unknownproxies import rules
from integrations.unknownproxies import sandbox as sandbox_module
from integrations.unknownproxies.kinds import UNKNOWN_PROXIES
from inventory.models import Resource, ResourceStatus
from inventory.sync import sync_account
from ops.models import AuditEvent
from providers.registry import client_for_account
from tests.factories import ProviderAccountFactory
from tests.support.pages import page

GB = 1_000_000_000


@pytest.fixture
def account(sandbox):
    account = ProviderAccountFactory(kind=UNKNOWN_PROXIES)
    sync_account(account=account)
    return account


def token(account, upstream_id: str, customer=None) -> Resource:
    resource = Resource.objects.get(account=account, upstream_id=upstream_id)
    if customer is not None:
        resource.customer = customer
        resource.save(update_fields=["customer"])
    return resource


def patches(sandbox) -> list:
    return sandbox.calls("PATCH")


# Staff: residential tokens -------------------------------------------------------------------------


def test_it_shows_the_residential_modify_page_with_the_pools(client, owner, account):
    resi = token(account, "resiPools001")
    client.force_login(owner)
    detail = page(client.get(f"/staff/inventory/{resi.pk}/"))
    assert f"/staff/inventory/{resi.pk}/unknownproxies/resi/modify/" in detail
    form = page(client.get(f"/staff/inventory/{resi.pk}/unknownproxies/resi/modify/"))
    assert "Canada, rotating (ca-r)" in form and 'value="5"' in form


def test_it_raises_a_residential_tokens_limit_duration_and_pools(client, owner, account, customer_a, sandbox):
    resi = token(account, "resiActive01", customer_a)
    client.force_login(owner)
    response = client.post(
        f"/staff/inventory/{resi.pk}/unknownproxies/resi/modify/",
        {"data_limit": "150", "duration_hours": "1000", "allowed_pools": ["us-s", "ca-r"], "allowed_pools_shown": "1"},
        follow=True,
    )
    assert "Saved: data limit, duration, pools." in page(response)
    upstream = client_for_account(account).get_resi_token("resiActive01")
    assert (upstream.data_limit, upstream.duration_hours, upstream.allowed_pools) == (150 * GB, 1000, ("us-s", "ca-r"))
    resi.refresh_from_db()
    assert resi.data_limit_bytes == 150 * GB
    assert resi.upstream["durationHours"] == 1000 and resi.upstream["allowedPools"] == ["us-s", "ca-r"]
    event = AuditEvent.objects.get(action="inventory.resi_token.modify")
    assert event.actor == owner and event.customer == customer_a
    assert event.data["dataLimit"] == 150 * GB and event.data["fields"] == [
        "allowedPools",
        "dataLimit",
        "durationHours",
    ]


def test_it_allows_every_pool_when_none_is_ticked(client, owner, account):
    resi = token(account, "resiPools001")
    client.force_login(owner)
    client.post(
        f"/staff/inventory/{resi.pk}/unknownproxies/resi/modify/",
        {"data_limit": "5", "duration_hours": "0", "allowed_pools_shown": "1"},
    )
    assert client_for_account(account).get_resi_token("resiPools001").allowed_pools == ()


def test_it_revives_an_expired_residential_token_with_more_time(client, support, account):
    resi = token(account, "resiExpTime1")
    assert resi.status == ResourceStatus.EXPIRED
    client.force_login(support)
    client.post(
        f"/staff/inventory/{resi.pk}/unknownproxies/resi/modify/", {"data_limit": "10", "duration_hours": "720"}
    )
    resi.refresh_from_db()
    assert resi.status == ResourceStatus.ACTIVE


@pytest.mark.parametrize(
    ("posted", "message"),
    [
        ({"data_limit": "0"}, "must be at least 1,000,000,000 bytes (1 GB)"),
        ({"data_limit": "99"}, "cannot be lowered below the current limit of 100,000,000,000 bytes"),
        ({"data_limit": "100", "duration_hours": "87601"}, "must be between 0 and 87600 hours (10 years)"),
        ({"data_limit": "100", "duration_hours": "-1"}, "must be between 0 and 87600 hours (10 years)"),
        ({"data_limit": "100", "duration_hours": "720"}, "give at least one field to change"),
        ({"allowed_pools": ["xx-s"], "allowed_pools_shown": "1"}, "Select a valid choice"),
    ],
)
def test_it_refuses_bad_residential_input_at_the_rules_edge(client, owner, account, sandbox, posted, message):
    resi = token(account, "resiActive01")
    client.force_login(owner)
    response = client.post(f"/staff/inventory/{resi.pk}/unknownproxies/resi/modify/", posted)
    assert response.status_code == 200
    assert message in page(response)
    assert patches(sandbox) == []
    assert not AuditEvent.objects.filter(action__startswith="inventory.resi_token").exists()


def test_it_accepts_the_smallest_raise_and_the_longest_duration(client, owner, account):
    resi = token(account, "resiActive01")
    client.force_login(owner)
    client.post(
        f"/staff/inventory/{resi.pk}/unknownproxies/resi/modify/", {"data_limit": "101", "duration_hours": "87600"}
    )
    upstream = client_for_account(account).get_resi_token("resiActive01")
    assert (upstream.data_limit, upstream.duration_hours) == (101 * GB, 87_600)


# Staff: ISP tokens -------------------------------------------------------------------------------


def test_support_staff_modify_every_field_of_an_isp_token(client, support, account, sandbox):
    isp = token(account, "ispActive001")
    client.force_login(support)
    response = client.post(
        f"/staff/inventory/{isp.pk}/unknownproxies/isp/modify/",
        {
            "auth_type": "ip",
            "authenticated_ips": "203.0.113.9\n\n198.51.100.1\n",
            "proxy_type": "socks",
            "username": "newuser1",
            "password": "Secret99",
        },
        follow=True,
    )
    assert "Saved: authentication, whitelisted IPs, protocol, username, password." in page(response)
    upstream = client_for_account(account).get_isp_token("ispActive001")
    assert (upstream.auth_type, upstream.authenticated_ips, upstream.proxy_type) == (
        "ip",
        ("203.0.113.9", "198.51.100.1"),
        "socks",
    )
    assert (upstream.username, upstream.password) == ("newuser1", "Secret99")
    isp.refresh_from_db()
    assert isp.upstream["authType"] == "ip" and isp.upstream["password"] == "Secret99"
    event = AuditEvent.objects.get(action="inventory.isp_token.modify")
    assert event.actor == support
    assert "Secret99" not in str(event.data) and "newuser1" not in str(event.data)
    assert event.data["authenticatedIps"] == ["203.0.113.9", "198.51.100.1"]


@pytest.mark.parametrize(
    ("posted", "message"),
    [
        ({"authenticated_ips": "1.1.1.1\n2.2.2.2\n3.3.3.3\n4.4.4.4\n5.5.5.5"}, "at most 4 addresses are allowed"),
        ({"authenticated_ips": "300.1.1.1"}, "'300.1.1.1' is not an IPv4 address"),
        ({"authenticated_ips": "2001:db8::1"}, "'2001:db8::1' is not an IPv4 address"),
        ({"username": "abc"}, "must be 4 to 12 letters or digits"),
        ({"username": "abcdefghijklm"}, "must be 4 to 12 letters or digits"),
        ({"password": "abc-def"}, "must be 4 to 12 letters or digits"),
        ({"proxy_type": "https"}, "Select a valid choice"),
        ({"proxy_type": "http"}, "give at least one field to change"),
    ],
)
def test_it_refuses_bad_isp_input_at_the_rules_edge(client, owner, account, sandbox, posted, message):
    isp = token(account, "ispActive001")
    client.force_login(owner)
    response = client.post(f"/staff/inventory/{isp.pk}/unknownproxies/isp/modify/", posted)
    assert response.status_code == 200
    assert message in page(response)
    assert patches(sandbox) == []


def test_it_accepts_four_ips_and_twelve_character_credentials(client, owner, account):
    isp = token(account, "ispActive001")
    client.force_login(owner)
    client.post(
        f"/staff/inventory/{isp.pk}/unknownproxies/isp/modify/",
        {"authenticated_ips": "1.1.1.1\n2.2.2.2\n3.3.3.3\n4.4.4.4", "username": "abcdefghijkl", "password": "abcd"},
    )
    upstream = client_for_account(account).get_isp_token("ispActive001")
    assert len(upstream.authenticated_ips) == 4 and upstream.username == "abcdefghijkl" and upstream.password == "abcd"


@pytest.mark.parametrize(
    ("user", "url"),
    [("owner", "/staff/inventory/{pk}/unknownproxies/isp/modify/"), ("alice", "/portal/proxies/{pk}/isp/settings/")],
)
def test_a_form_post_runs_the_isp_modify_rule_once_before_sending(request, db, client, account, monkeypatch, user, url):
    user = request.getfixturevalue(user)
    isp = token(account, "ispActive001", getattr(user, "customer", None))
    callers = []
    checked = rules.modify_isp_token

    def spy(body):
        callers.append(sys._getframe(1).f_globals["__name__"])
        return checked(body)

    monkeypatch.setattr(rules, "modify_isp_token", spy)
    client.force_login(user)
    response = client.post(url.format(pk=isp.pk), {"proxy_type": "socks", "password": "Secret99"}, follow=True)
    assert "Saved: protocol, password." in page(response)
    # The form checked each field and the request; the client ran the whole-body rule (the sandbox is upstream).
    assert [name for name in callers if name != sandbox_module.__name__] == [client_module.__name__]


def test_it_shows_the_upstream_message_when_the_isp_token_is_still_processing(client, owner, account, sandbox):
    isp = token(account, "ispProcess01")
    client.force_login(owner)
    response = client.post(
        f"/staff/inventory/{isp.pk}/unknownproxies/isp/modify/", {"proxy_type": "socks"}, follow=True
    )
    assert "only active tokens can be modified; this one is processing" in page(response)
    assert len(patches(sandbox)) == 1
    assert client_for_account(account).get_isp_token("ispProcess01").proxy_type == "http"
    assert not AuditEvent.objects.filter(action__startswith="inventory.isp_token").exists()


def test_it_refuses_an_expired_or_vanished_token_before_calling_upstream(client, owner, account, sandbox):
    expired = token(account, "ispExpTime01")
    client.force_login(owner)
    response = client.post(
        f"/staff/inventory/{expired.pk}/unknownproxies/isp/modify/", {"proxy_type": "socks"}, follow=True
    )
    assert "this token has expired and can no longer be changed" in page(response)
    gone = token(account, "resiActive01")
    Resource.objects.filter(pk=gone.pk).update(status=ResourceStatus.VANISHED)
    response = client.post(
        f"/staff/inventory/{gone.pk}/unknownproxies/resi/modify/", {"data_limit": "200"}, follow=True
    )
    assert "this token is gone upstream and can no longer be changed" in page(response)
    assert patches(sandbox) == []


def test_it_says_when_the_outcome_is_unknown_and_audits_it(client, owner, account, sandbox, customer_a):
    isp = token(account, "ispActive001", customer_a)
    sandbox.control(
        "faults", {"rules": [{"provider": "unknownproxies", "match": "PATCH /isp/token", "kind": "lost_response"}]}
    )
    client.force_login(owner)
    response = client.post(
        f"/staff/inventory/{isp.pk}/unknownproxies/isp/modify/", {"proxy_type": "socks"}, follow=True
    )
    assert "We could not confirm the change" in page(response)
    event = AuditEvent.objects.get(action="inventory.isp_token.modify_unknown")
    assert event.data["outcome"] == "unknown" and "next sync will show the truth" in event.data["note"]
    assert event.customer == customer_a
    # The change did happen upstream; the mirror learns it at the next sync.
    assert client_for_account(account).get_isp_token("ispActive001").proxy_type == "socks"
    isp.refresh_from_db()
    assert isp.upstream["proxyType"] == "http"


def test_it_loads_tokens_by_kind(client, owner, account):
    resi = token(account, "resiActive01")
    client.force_login(owner)
    assert client.get(f"/staff/inventory/{resi.pk}/unknownproxies/isp/modify/").status_code == 404


# Portal: customers' ISP tokens ------------------------------------------------------------------------


def test_a_customer_whitelists_ips_on_their_isp_token(client, alice, account, sandbox):
    isp = token(account, "ispActive001", alice.customer)
    client.force_login(alice)
    detail = page(client.get(f"/portal/proxies/{isp.pk}/"))
    assert f"/portal/proxies/{isp.pk}/isp/settings/" in detail and "Use whitelisted IPs" in detail
    response = client.post(
        f"/portal/proxies/{isp.pk}/isp/settings/",
        {"auth_type": "ip", "authenticated_ips": "203.0.113.50"},
        follow=True,
    )
    assert "Saved: authentication, whitelisted IPs." in page(response)
    upstream = client_for_account(account).get_isp_token("ispActive001")
    assert (upstream.auth_type, upstream.authenticated_ips) == ("ip", ("203.0.113.50",))
    isp.refresh_from_db()
    assert isp.upstream["authenticatedIps"] == ["203.0.113.50"]
    event = AuditEvent.objects.get(action="inventory.isp_token.modify")
    assert event.actor == alice and event.customer == alice.customer


@pytest.mark.parametrize(
    ("posted", "check", "message"),
    [
        ({"proxy_type": "http"}, lambda t: t.proxy_type == "http", "Saved: protocol."),
        ({"auth_type": "user"}, lambda t: t.auth_type == "user", "Saved: authentication."),
        ({"password": "Fresh2025"}, lambda t: t.password == "Fresh2025", "Saved: password."),
    ],
)
def test_a_customer_serves_themselves_on_their_isp_token(client, alice, account, posted, check, message):
    isp = token(account, "ispIpAuth001", alice.customer)
    client.force_login(alice)
    response = client.post(f"/portal/proxies/{isp.pk}/isp/settings/", posted, follow=True)
    assert message in page(response)
    assert check(client_for_account(account).get_isp_token("ispIpAuth001"))


def test_a_customer_cannot_change_the_username(client, alice, account):
    isp = token(account, "ispActive001", alice.customer)
    client.force_login(alice)
    client.post(f"/portal/proxies/{isp.pk}/isp/settings/", {"username": "takeover1", "proxy_type": "socks"})
    upstream = client_for_account(account).get_isp_token("ispActive001")
    assert upstream.username == "demoIsp1" and upstream.proxy_type == "socks"


def test_a_customer_sees_the_rules_message_and_nothing_is_sent(client, alice, account, sandbox):
    isp = token(account, "ispActive001", alice.customer)
    client.force_login(alice)
    response = client.post(
        f"/portal/proxies/{isp.pk}/isp/settings/", {"auth_type": "ip", "authenticated_ips": "10.0.0.1\nnot-an-ip"}
    )
    assert "'not-an-ip' is not an IPv4 address" in page(response)
    response = client.post(f"/portal/proxies/{isp.pk}/isp/settings/", {"password": "ab"})
    assert "must be 4 to 12 letters or digits" in page(response)
    assert patches(sandbox) == []


def test_a_customer_cannot_act_on_another_customers_token(client, bob, alice, account, sandbox):
    isp = token(account, "ispActive001", alice.customer)
    client.force_login(bob)
    assert client.get(f"/portal/proxies/{isp.pk}/isp/settings/").status_code == 404
    assert client.post(f"/portal/proxies/{isp.pk}/isp/settings/", {"proxy_type": "socks"}).status_code == 404
    assert patches(sandbox) == []


def test_a_customer_gets_no_self_service_modify_on_a_residential_token(client, alice, account, sandbox):
    resi = token(account, "resiActive01", alice.customer)
    client.force_login(alice)
    detail = page(client.get(f"/portal/proxies/{resi.pk}/"))
    assert "/unknownproxies/resi/modify/" not in detail and "/isp/settings/" not in detail
    assert client.post(f"/portal/proxies/{resi.pk}/isp/settings/", {"data_limit": "500"}).status_code == 404
    staff_url = f"/staff/inventory/{resi.pk}/unknownproxies/resi/modify/"
    assert client.post(staff_url, {"data_limit": "500"}).status_code == 403
    assert patches(sandbox) == []
    assert client_for_account(account).get_resi_token("resiActive01").data_limit == 100 * GB


def test_a_suspended_customer_cannot_act(client, alice, account, sandbox):
    isp = token(account, "ispActive001", alice.customer)
    alice.customer.status = "suspended"
    alice.customer.save()
    client.force_login(alice)
    assert client.post(f"/portal/proxies/{isp.pk}/isp/settings/", {"proxy_type": "socks"}).status_code == 403
    assert patches(sandbox) == []


def test_a_data_limit_past_what_the_mirror_holds_is_refused_before_anything_is_sent(client, owner, account, sandbox):
    # Issue 12: 10^30 bytes was sent upstream, then overflowed the mirror's bigint and broke every later sync.
    resi = token(account, "resiActive01")
    upstream_before = sandbox.app.provider("unknownproxies").resi["resiActive01"].to_json(0)
    client.force_login(owner)

    response = client.post(f"/staff/inventory/{resi.pk}/unknownproxies/resi/modify/", {"data_limit": str(10**30 // GB)})

    assert response.status_code == 200
    assert f"must be at most {rules.MAX_DATA_LIMIT:,} bytes" in page(response)
    assert patches(sandbox) == []
    assert sandbox.app.provider("unknownproxies").resi["resiActive01"].to_json(0) == upstream_before
    assert not AuditEvent.objects.filter(action__startswith="inventory.resi_token").exists()
    assert sync_account(account=account).outcome == "ok"


def test_the_largest_data_limit_the_mirror_holds_is_sent_and_mirrored(client, owner, account, sandbox):
    resi = token(account, "resiActive01")
    client.force_login(owner)

    client.post(
        f"/staff/inventory/{resi.pk}/unknownproxies/resi/modify/", {"data_limit": str(rules.MAX_DATA_LIMIT // GB)}
    )

    resi.refresh_from_db()
    assert resi.data_limit_bytes == rules.MAX_DATA_LIMIT
    assert sync_account(account=account).outcome == "ok"
