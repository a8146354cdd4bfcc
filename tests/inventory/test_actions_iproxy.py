"""iProxy actions: staff run our phones end to end; a customer serves themselves on their own proxy access."""

from __future__ import annotations

import datetime as dt
import html
import json

import pytest
from django.utils import timezone

from integrations.iproxy import actions as services
from integrations.iproxy import rules
from integrations.iproxy.kinds import IPROXY, IPROXY_ACCESS, IPROXY_CONNECTION
from inventory import assignment
from inventory.models import Resource, ResourceStatus
from ops.models import AuditEvent
from ops.units import format_gb as gb
from providers.registry import client_for_account
from tests.support.accounts import synced_account

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_cache")]

STAFF = "/staff/inventory/iproxy"


@pytest.fixture
def account(sandbox):
    return synced_account(IPROXY)


@pytest.fixture
def upstream(account):
    return client_for_account(account)


@pytest.fixture
def phone(account):
    return Resource.objects.get(account=account, kind=IPROXY_CONNECTION, label="online with plan")


def _access_on(phone: Resource, description: str) -> Resource:
    return next(child for child in phone.children.all() if child.upstream.get("description") == description)


@pytest.fixture
def access(phone, customer_a):
    """The demo's userpass http access on the online phone, sold to customer A."""
    return assignment.resource_assign(resource=_access_on(phone, "main http proxy"), customer=customer_a, actor=None)


def _action_links(upstream) -> list[str]:
    return [secret for link in upstream.list_all_action_links() for secret in (link.link, link.id)]


def _assert_no_link_anywhere(upstream, pages: list[str]) -> None:
    secrets = _action_links(upstream)
    assert secrets
    audit_rows = json.dumps([event.data for event in AuditEvent.objects.all()])
    for secret in secrets:
        assert secret not in audit_rows
        for page in pages:
            assert secret not in page


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# Staff: connections -------------------------------------------------------------------------------------


def test_it_creates_a_connection(client, support, account, upstream):
    client.force_login(support)
    response = client.post(
        f"{STAFF}/{account.pk}/connections/new/", {"name": "Phone 7", "country": "PL", "city": "waw"}
    )
    created = Resource.objects.get(account=account, kind=IPROXY_CONNECTION, label="Phone 7")
    assert response.status_code == 302 and response["Location"] == f"{STAFF}/connections/{created.pk}/"
    there = upstream.get_connection(created.upstream_id)
    assert there.basic_info.name == "Phone 7" and there.basic_info.server_id == "srv-pl-waw-1"
    assert created.customer is None and created.upstream["basic_info"]["server_id"] == "srv-pl-waw-1"
    event = AuditEvent.objects.get(action="iproxy.connection.create")
    assert event.actor == support and event.data["connection"] == created.upstream_id


def test_it_refuses_a_connection_with_both_a_place_and_a_server(client, support, account, sandbox):
    client.force_login(support)
    response = client.post(
        f"{STAFF}/{account.pk}/connections/new/",
        {"name": "Phone 8", "country": "pl", "city": "waw", "server_id": "vip-nl-ams-1"},
    )
    assert response.status_code == 200
    assert "give either country and city, or server_id, never both" in response.content.decode()
    assert sandbox.calls("POST", "/connections") == []


def test_it_changes_only_the_changed_settings(client, owner, phone, upstream, sandbox):
    client.force_login(owner)
    page = client.get(f"{STAFF}/connections/{phone.pk}/")
    assert page.status_code == 200
    # The phone's DNS already is 1.1.1.1: posted unchanged, it is not sent.
    response = client.post(
        f"{STAFF}/connections/{phone.pk}/settings/",
        {"ip_change_interval_minutes": "15", "dns": "1.1.1.1", "ip_change_enabled": "true"},
        follow=True,
    )
    assert "Saved:" in " ".join(_messages(response))
    (call,) = sandbox.calls("POST", "/update-settings")
    assert json.loads(call.request.body) == {"ip_change_interval_minutes": 15, "ip_change_enabled": True}
    settings = upstream.get_connection(phone.upstream_id).settings
    assert settings.ip_change_interval_minutes == 15 and settings.ip_change_enabled is True
    phone.refresh_from_db()
    assert phone.upstream["settings"]["ip_change_interval_minutes"] == 15
    event = AuditEvent.objects.get(action="iproxy.connection.settings_update")
    assert event.data["changes"] == {"ip_change_interval_minutes": 15, "ip_change_enabled": True}


@pytest.mark.parametrize("mirrored", ["not a mapping", ["a", "list"], None])
def test_a_phone_whose_mirrored_settings_cannot_be_read_still_opens_and_saves(
    client, owner, phone, upstream, sandbox, mirrored
):
    # What the mirror holds came from upstream: whatever shape it has, the page must not fail on it.
    Resource.objects.filter(pk=phone.pk).update(upstream={**phone.upstream, "settings": mirrored})
    client.force_login(owner)
    assert client.get(f"{STAFF}/connections/{phone.pk}/").status_code == 200
    response = client.post(
        f"{STAFF}/connections/{phone.pk}/settings/", {"ip_change_interval_minutes": "20"}, follow=True
    )
    assert "Saved:" in " ".join(_messages(response))
    assert upstream.get_connection(phone.upstream_id).settings.ip_change_interval_minutes == 20


@pytest.mark.parametrize(
    ("field", "posted", "value"),
    [
        ("no_network_reboot_timeout_seconds", "3601", 3601),
        ("low_battery_reboot_threshold", "96", 96),
        ("ip_change_wait_unique_attempts", "11", 11),
        ("no_wifi_connection_reboot_timeout_seconds", "40321", 40321),
        ("reboot_cron_string", "every hour", "every hour"),
        ("dns", "1.1.1.1, not-an-ip", ["1.1.1.1", "not-an-ip"]),
        ("macros_url", "ftp://example.com/x", "ftp://example.com/x"),
    ],
)
def test_it_refuses_settings_out_of_range_with_the_rules_message(client, support, phone, sandbox, field, posted, value):
    (violation,) = rules.SETTINGS_RULES[field](field, value)
    client.force_login(support)
    response = client.post(f"{STAFF}/connections/{phone.pk}/settings/", {field: posted})
    assert response.status_code == 400
    assert html.escape(violation.message) in response.content.decode()
    assert sandbox.calls("POST", "/update-settings") == []
    assert not AuditEvent.objects.filter(action__startswith="iproxy.").exists()


def test_it_prolongates_by_a_multiple_of_30_days(client, owner, phone, upstream):
    before = upstream.get_connection(phone.upstream_id).active_plan.expires_at
    client.force_login(owner)
    response = client.post(f"{STAFF}/connections/{phone.pk}/prolongate/", {"days": "60"}, follow=True)
    assert "Plan prolongated by 60 days" in " ".join(_messages(response))
    after = upstream.get_connection(phone.upstream_id).active_plan.expires_at
    assert after - before == dt.timedelta(days=60)
    phone.refresh_from_db()
    assert phone.expires_at == after
    event = AuditEvent.objects.get(action="iproxy.connection.prolongate")
    assert event.data["days"] == 60 and event.data["expires_at"] == after.isoformat()


@pytest.mark.parametrize("days", ["45", "0", "-30"])
def test_it_refuses_a_prolongation_that_is_not_a_multiple_of_30(client, owner, phone, sandbox, days):
    client.force_login(owner)
    response = client.post(f"{STAFF}/connections/{phone.pk}/prolongate/", {"days": days})
    assert response.status_code == 400
    (violation,) = rules.check_prolongation_days(int(days), 30)
    assert html.escape(violation.message) in response.content.decode()
    assert sandbox.calls("POST", "/prolongate-plan") == []


def test_it_reboots_the_phone(client, support, phone, sandbox):
    client.force_login(support)
    response = client.post(f"{STAFF}/connections/{phone.pk}/reboot/", follow=True)
    assert "Reboot sent" in " ".join(_messages(response))
    (call,) = sandbox.calls("POST", "/command-push")
    assert json.loads(call.request.body) == {"action": "reboot"}
    phone.refresh_from_db()
    assert phone.status == ResourceStatus.OFFLINE and phone.upstream["online_status"] == "offline"
    assert AuditEvent.objects.get(action="iproxy.connection.reboot").data["via"] == "command"


def test_it_changes_the_ip_by_command(client, support, phone, upstream):
    now = timezone.now()
    before = upstream.ip_history(phone.upstream_id, start=now - dt.timedelta(days=1), end=now)
    client.force_login(support)
    client.post(f"{STAFF}/connections/{phone.pk}/change-ip/")
    later = timezone.now()
    after = upstream.ip_history(phone.upstream_id, start=now - dt.timedelta(days=1), end=later)
    assert len(after) == len(before) + 1 and after[-1].ipv4 != (before[-1].ipv4 if before else "")
    assert AuditEvent.objects.get(action="iproxy.connection.change_ip").data["via"] == "command"


def test_it_changes_the_ip_through_a_link_kept_server_side(client, support, phone, upstream, sandbox):
    client.force_login(support)
    response = client.post(f"{STAFF}/connections/{phone.pk}/change-ip/", {"via": "link"}, follow=True)
    assert "IP change sent" in " ".join(_messages(response))
    ours = [link for link in upstream.list_action_links(phone.upstream_id) if link.comment == services.LINK_COMMENT]
    assert len(ours) == 1 and ours[0].action == "changeip"
    assert len(sandbox.calls("GET", ours[0].id)) == 1
    # A second change reuses the same link.
    client.post(f"{STAFF}/connections/{phone.pk}/change-ip/", {"via": "link"})
    assert len(sandbox.calls("GET", ours[0].id)) == 2
    assert len(sandbox.calls("POST", "/actionlinks")) == 1
    pages = [
        response.content.decode(),
        client.get(f"{STAFF}/connections/{phone.pk}/").content.decode(),
        client.get(f"/staff/inventory/{phone.pk}/").content.decode(),
    ]
    _assert_no_link_anywhere(upstream, pages)


def test_it_says_it_could_not_confirm_a_lost_change(client, support, phone, sandbox):
    sandbox.control(
        "faults", {"rules": [{"provider": "iproxy", "match": "POST /connection/", "kind": "lost_response"}]}
    )
    client.force_login(support)
    response = client.post(f"{STAFF}/connections/{phone.pk}/change-ip/", follow=True)
    (message,) = _messages(response)
    assert "could not confirm" in message and "next sync" in message
    event = AuditEvent.objects.get(action="iproxy.connection.change_ip_unknown")
    assert event.data["outcome"] == services.UNKNOWN_NOTE
    assert not AuditEvent.objects.filter(action="iproxy.connection.change_ip").exists()


# Staff: proxy accesses ----------------------------------------------------------------------------------


def test_it_opens_a_proxy_access_in_stock(client, support, phone, upstream):
    client.force_login(support)
    response = client.post(
        f"{STAFF}/connections/{phone.pk}/accesses/new/",
        {"listen_service": "socks5", "auth_type": "noauth", "acl_inbound_ips": "203.0.113.9", "description": "new"},
        follow=True,
    )
    assert "is open and in stock" in " ".join(_messages(response))
    created = _access_on(phone, "new")
    there = next(a for a in upstream.list_proxy_accesses(phone.upstream_id) if a.id == created.upstream_id)
    assert there.auth_type == "noauth" and there.acl_inbound_ips == ("203.0.113.9",)
    assert created.kind == IPROXY_ACCESS and created.parent == phone and created.customer is None
    assert created.label == f"{there.hostname}:{there.port}"
    assert AuditEvent.objects.get(action="iproxy.access.create").data["access"] == created.upstream_id


def test_it_refuses_a_noauth_access_without_allowed_ips(client, support, phone, sandbox):
    client.force_login(support)
    response = client.post(
        f"{STAFF}/connections/{phone.pk}/accesses/new/", {"listen_service": "http", "auth_type": "noauth"}
    )
    assert response.status_code == 400
    assert "is required when auth_type is noauth" in response.content.decode()
    assert sandbox.calls("POST", "/proxy-access") == []


def test_it_updates_an_access_expiry_credentials_and_acl(client, support, access, upstream):
    prefix = f"access-{access.upstream_id}-"
    client.force_login(support)
    response = client.post(
        f"{STAFF}/accesses/{access.pk}/update/",
        {
            f"{prefix}expires_at": "2030-01-02T03:04",
            f"{prefix}login": "shopuser1",
            f"{prefix}password": "Secret123456",
            f"{prefix}acl_inbound_ips": "203.0.113.5, 203.0.113.6",
        },
        follow=True,
    )
    assert "saved" in " ".join(_messages(response))
    there = next(a for a in upstream.list_proxy_accesses(access.parent.upstream_id) if a.id == access.upstream_id)
    assert there.expires_at == dt.datetime(2030, 1, 2, 3, 4, tzinfo=dt.UTC)
    assert (there.auth.login, there.auth.password) == ("shopuser1", "Secret123456")
    assert there.acl_inbound_ips == ("203.0.113.5", "203.0.113.6")
    access.refresh_from_db()
    assert access.expires_at == there.expires_at and access.upstream["auth"]["login"] == "shopuser1"
    assert access.customer is not None  # the sale stays
    event = AuditEvent.objects.get(action="iproxy.access.update")
    assert "Secret123456" not in json.dumps(event.data) and event.data["auth"] == "replaced"

    client.post(f"{STAFF}/accesses/{access.pk}/update/", {f"{prefix}clear_expiry": "on"})
    there = next(a for a in upstream.list_proxy_accesses(access.parent.upstream_id) if a.id == access.upstream_id)
    assert there.expires_at is None
    access.refresh_from_db()
    assert access.expires_at is None


def test_it_refuses_to_open_a_noauth_access_to_everyone(client, support, phone, sandbox):
    office = _access_on(phone, "office socks5")
    client.force_login(support)
    response = client.post(
        f"{STAFF}/accesses/{office.pk}/update/", {f"access-{office.upstream_id}-acl_inbound_ips": ""}
    )
    assert response.status_code == 400
    assert "a noauth access needs an inbound ACL with at least one IP" in response.content.decode()
    assert sandbox.calls("POST", "/update") == []


def test_it_closes_an_access(client, support, access, upstream):
    client.force_login(support)
    response = client.post(f"{STAFF}/accesses/{access.pk}/delete/", follow=True)
    assert "is closed" in " ".join(_messages(response))
    assert access.upstream_id not in {a.id for a in upstream.list_proxy_accesses(access.parent.upstream_id)}
    access.refresh_from_db()
    assert access.status == ResourceStatus.VANISHED and access.vanished_at is not None
    assert AuditEvent.objects.get(action="iproxy.access.delete").customer == access.customer


def test_it_rejects_get_on_actions_and_customers_on_staff_pages(client, support, alice, phone):
    client.force_login(support)
    assert client.get(f"{STAFF}/connections/{phone.pk}/reboot/").status_code == 405
    client.force_login(alice)
    assert client.get(f"{STAFF}/connections/{phone.pk}/").status_code == 403
    assert client.post(f"{STAFF}/connections/{phone.pk}/change-ip/").status_code == 403


def test_staff_reach_only_iproxy_connections_on_the_phone_page(client, support, access):
    client.force_login(support)
    assert client.get(f"{STAFF}/connections/{access.pk}/").status_code == 404
    assert client.get(f"{STAFF}/connections/{access.parent.pk}/").status_code == 200


# Customers -------------------------------------------------------------------------------------------------


def test_a_customer_changes_their_proxys_ip(client, alice, access, upstream, sandbox):
    phone_id = access.parent.upstream_id
    now = timezone.now()
    before = upstream.ip_history(phone_id, start=now - dt.timedelta(days=1), end=now)
    client.force_login(alice)
    detail = client.get(f"/portal/proxies/{access.pk}/").content.decode()
    assert "Change IP now" in detail
    response = client.post(f"/portal/proxies/{access.pk}/iproxy/change-ip/", follow=True)
    assert "changing its IP now" in " ".join(_messages(response))
    after = upstream.ip_history(phone_id, start=now - dt.timedelta(days=1), end=timezone.now())
    assert len(after) == len(before) + 1
    assert after[-1].ipv4 != (before[-1].ipv4 if before else "")
    executed = [call for call in sandbox.calls("GET") if "/actionlinks/do/changeip/" in call.request.url]
    assert len(executed) == 1 and "Authorization" not in executed[0].request.headers
    event = AuditEvent.objects.get(action="iproxy.access.change_ip")
    assert event.actor == alice and event.customer == alice.customer and event.data["via"] == "link"
    stats = client.get(f"/portal/proxies/{access.pk}/iproxy/statistics/").content.decode()
    assert after[-1].ipv4 in stats
    _assert_no_link_anywhere(upstream, [detail, response.content.decode(), stats])


def test_the_change_ip_rate_limit_holds(client, alice, access, sandbox):
    client.force_login(alice)
    client.post(f"/portal/proxies/{access.pk}/iproxy/change-ip/", follow=True)
    executed = len(sandbox.calls("GET"))
    response = client.post(f"/portal/proxies/{access.pk}/iproxy/change-ip/", follow=True)
    (message,) = _messages(response)
    assert "You can change it again in" in message and "seconds" in message
    assert len(sandbox.calls("GET")) == executed  # nothing went upstream
    assert AuditEvent.objects.filter(action="iproxy.access.change_ip").count() == 1


def test_a_refused_change_ip_does_not_count_against_the_limit(client, alice, access, sandbox):
    sandbox.control(
        "faults", {"rules": [{"provider": "iproxy", "match": "GET /connections/", "kind": "status", "status": 404}]}
    )
    client.force_login(alice)
    response = client.post(f"/portal/proxies/{access.pk}/iproxy/change-ip/", follow=True)
    assert "iProxy refused to change the IP" in " ".join(_messages(response))
    response = client.post(f"/portal/proxies/{access.pk}/iproxy/change-ip/", follow=True)
    assert "changing its IP now" in " ".join(_messages(response))


def test_a_customer_gets_new_credentials(client, alice, access, upstream):
    old = access.upstream["auth"]
    client.force_login(alice)
    response = client.post(f"/portal/proxies/{access.pk}/iproxy/new-credentials/", follow=True)
    assert "new password is ready" in " ".join(_messages(response))
    there = next(a for a in upstream.list_proxy_accesses(access.parent.upstream_id) if a.id == access.upstream_id)
    assert there.auth.login == old["login"] and there.auth.password != old["password"]
    assert len(there.auth.password) == 12 and there.auth.password.isalnum()
    access.refresh_from_db()
    assert access.upstream["auth"]["password"] == there.auth.password
    assert there.auth.password in response.content.decode()  # shown to its owner on the detail page
    event = AuditEvent.objects.get(action="iproxy.access.new_credentials")
    assert event.customer == alice.customer and there.auth.password not in json.dumps(event.data)


def test_a_lost_answer_to_new_credentials_is_reported_and_audited(client, alice, access, sandbox):
    rule = {"provider": "iproxy", "match": "POST /connections/", "kind": "lost_response"}
    sandbox.control("faults", {"rules": [rule]})
    client.force_login(alice)
    response = client.post(f"/portal/proxies/{access.pk}/iproxy/new-credentials/", follow=True)
    assert "could not confirm" in " ".join(_messages(response))
    event = AuditEvent.objects.get(action="iproxy.access.new_credentials_unknown")
    assert event.customer == alice.customer and "password" not in json.dumps(event.data)


@pytest.mark.parametrize("route", ["new-credentials/", "change-ip/", "connection/"])
def test_a_proxy_that_has_ended_refuses_the_customers_change(client, alice, access, sandbox, route):
    Resource.objects.filter(pk=access.pk).update(status=ResourceStatus.VANISHED)
    before = len(sandbox.calls())
    client.force_login(alice)
    response = client.post(f"/portal/proxies/{access.pk}/iproxy/{route}", {"listen_service": "http"})
    assert response.status_code == 302 and response.url == f"/portal/proxies/{access.pk}/"
    assert len(sandbox.calls()) == before  # nothing reached iProxy
    assert "This proxy has ended." in _messages(client.get(response.url))


def test_another_customers_access_is_not_found(client, bob, access):
    client.force_login(bob)
    assert client.post(f"/portal/proxies/{access.pk}/iproxy/change-ip/").status_code == 404
    assert client.post(f"/portal/proxies/{access.pk}/iproxy/new-credentials/").status_code == 404
    assert client.get(f"/portal/proxies/{access.pk}/iproxy/statistics/").status_code == 404
    assert not AuditEvent.objects.filter(action__startswith="iproxy.").exists()


def test_a_connection_is_not_found_for_customers_even_when_assigned(client, alice, phone):
    Resource.objects.filter(pk=phone.pk).update(customer=alice.customer)
    client.force_login(alice)
    assert client.post(f"/portal/proxies/{phone.pk}/iproxy/change-ip/").status_code == 404
    assert client.post(f"/portal/proxies/{phone.pk}/iproxy/new-credentials/").status_code == 404
    assert client.get(f"/portal/proxies/{phone.pk}/iproxy/statistics/").status_code == 404


def test_the_statistics_page_shows_the_phones_numbers(client, alice, access, upstream, sandbox):
    phone_id = access.parent.upstream_id
    now = timezone.now()
    traffic = upstream.traffic_by_day(phone_id, start=now - dt.timedelta(days=30), end=now, timezone="UTC")
    uptime = upstream.uptime(phone_id, start=now - dt.timedelta(hours=24), end=now)
    history = upstream.ip_history(phone_id, start=now - dt.timedelta(hours=24), end=now)
    client.force_login(alice)
    response = client.get(f"/portal/proxies/{access.pk}/iproxy/statistics/")
    assert response.status_code == 200
    page = response.content.decode()
    assert f"<dd data-total-in>{gb(traffic.total_in_bytes)}</dd>" in page
    assert f"<dd data-total-out>{gb(traffic.total_out_bytes)}</dd>" in page
    assert page.count('fill="#2563eb"/>') == len(traffic.daily_stats) + 1  # one per day, one in the legend
    last_hour = now.replace(minute=0, second=0, microsecond=0)
    shown = [e for e in uptime if e.date >= last_hour - dt.timedelta(hours=23)]
    up = sum(e.status == "UP" for e in shown)
    assert f"{up} of {len(shown)} hours with data were up" in page
    assert all(entry.ipv4 in page for entry in history)
    assert "<script" not in page.split("</head>")[1]
    # Cached for a minute: a reload asks nothing upstream.
    calls = len(sandbox.calls())
    assert client.get(f"/portal/proxies/{access.pk}/iproxy/statistics/").status_code == 200
    assert len(sandbox.calls()) == calls


def test_customers_do_not_get_a_password_button_for_an_ip_authorised_access(client, alice, phone):
    office = assignment.resource_assign(
        resource=_access_on(phone, "office socks5"), customer=alice.customer, actor=None
    )
    client.force_login(alice)
    page = client.get(f"/portal/proxies/{office.pk}/").content.decode()
    assert "Change IP now" in page and "New password" not in page
    response = client.post(f"/portal/proxies/{office.pk}/iproxy/new-credentials/", follow=True)
    assert "reached by IP address" in " ".join(_messages(response))


def _as_posted(form) -> dict[str, str]:
    """What a browser posts for a form shown with its current values and left alone."""
    posted = {}
    for field in form:
        value = field.value()
        if isinstance(value, dt.datetime):
            value = value.strftime("%Y-%m-%dT%H:%M")  # already in the current time zone
        if value not in (None, False):
            posted[field.html_name] = "on" if value is True else str(value)
    return posted


def test_it_sends_nothing_when_forms_are_posted_unchanged(client, support, phone, account, sandbox):
    from integrations.iproxy.forms import AccessUpdateForm, ConnectionSettingsForm

    backup = Resource.objects.get(account=account, kind=IPROXY_ACCESS, upstream__description="backup http proxy")
    assert backup.expires_at is not None
    client.force_login(support)
    settings_form = ConnectionSettingsForm(current=phone.upstream["settings"])
    response = client.post(f"{STAFF}/connections/{phone.pk}/settings/", _as_posted(settings_form))
    assert response.status_code == 400 and "send at least one setting to change" in response.content.decode()
    access_form = AccessUpdateForm(current=backup.details, expires_at=backup.expires_at)
    response = client.post(f"{STAFF}/accesses/{backup.pk}/update/", _as_posted(access_form))
    assert response.status_code == 400 and "send at least one field to change" in response.content.decode()
    assert sandbox.calls("POST") == []
