"""The rest of a phone's console for staff (issue 10): every screen against the sandbox, its edges and its roles."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import json

import pytest
from django.utils import timezone

from integrations.iproxy import actions as services
from integrations.iproxy import rules
from integrations.iproxy.kinds import IPROXY, IPROXY_ACCESS, IPROXY_CONNECTION
from integrations.iproxy.models import PhoneCapacity
from integrations.iproxy.sandbox import IProxySim
from inventory import assignment
from inventory.models import Resource, ResourceStatus
from ops.models import AuditEvent
from providers.registry import client_for_account
from providers.sandbox.core import json_response
from tests.support.accounts import synced_account

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_cache")]

STAFF = "/staff/inventory/iproxy/connections"
LOST = "lost_response"


@pytest.fixture
def account(sandbox):
    return synced_account(IPROXY)


@pytest.fixture
def upstream(account):
    return client_for_account(account)


@pytest.fixture
def phone(account):
    return Resource.objects.get(account=account, kind=IPROXY_CONNECTION, label="online with plan")


@pytest.fixture
def bare_phone(account):
    """A phone without an active plan (its plan ran out five days ago)."""
    return Resource.objects.get(account=account, kind=IPROXY_CONNECTION, label="flapping, plan expired")


def _fault(sandbox, match: str, kind: str = "status", **extra) -> None:
    sandbox.control("faults", {"rules": [{"provider": "iproxy", "match": match, "kind": kind, "times": 1, **extra}]})


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _text(response) -> str:
    return html.unescape(response.content.decode())


def _as(client, user):
    client.force_login(user)
    return client


def _unknown_audited(action: str) -> AuditEvent:
    event = AuditEvent.objects.get(action=f"{action}_unknown")
    assert event.data["outcome"] == services.UNKNOWN_NOTE
    assert not AuditEvent.objects.filter(action=action).exists()
    return event


# Name and description ------------------------------------------------------------------------------------


def test_it_renames_a_phone(client, support, phone, upstream, sandbox):
    response = _as(client, support).post(
        f"{STAFF}/{phone.pk}/basic-info/", {"name": "Warsaw 1", "description": "shelf 3"}, follow=True
    )
    assert "Name and description saved." in _messages(response)
    there = upstream.get_connection(phone.upstream_id).basic_info
    assert (there.name, there.description) == ("Warsaw 1", "shelf 3")
    phone.refresh_from_db()
    assert phone.label == "Warsaw 1"
    event = AuditEvent.objects.get(action="iproxy.connection.basic_info_update")
    assert event.actor == support and event.data["name"] == "Warsaw 1"


def test_it_sends_only_the_changed_description(client, support, phone, sandbox):
    _as(client, support).post(f"{STAFF}/{phone.pk}/basic-info/", {"name": phone.label, "description": "x"})
    (call,) = sandbox.calls("POST", "/update-basic-info")
    assert json.loads(call.request.body) == {"description": "x"}


@pytest.mark.parametrize(
    ("posted", "message"),
    [({}, "send a name, a description or both"), ({"name": "n" * 257}, "at most 256 characters")],
)
def test_it_refuses_a_rename_that_breaks_the_rules(client, support, phone, sandbox, posted, message):
    response = _as(client, support).post(f"{STAFF}/{phone.pk}/basic-info/", posted)
    assert response.status_code == 400 and message in _text(response)
    assert sandbox.calls("POST", "/update-basic-info") == []


def test_a_lost_rename_is_reported_and_audited(client, support, phone, sandbox):
    _fault(sandbox, "POST /connections/", LOST)
    response = _as(client, support).post(f"{STAFF}/{phone.pk}/basic-info/", {"name": "Lost"}, follow=True)
    assert "could not confirm" in _messages(response)[0]
    _unknown_audited("iproxy.connection.basic_info_update")


# Plan change -----------------------------------------------------------------------------------------


def test_it_changes_the_plan(client, owner, phone, upstream):
    response = _as(client, owner).post(f"{STAFF}/{phone.pk}/change-plan/", {"plan_id": "pro30"}, follow=True)
    assert "now on plan pro30" in _messages(response)[0]
    assert upstream.get_connection(phone.upstream_id).active_plan.id == "pro30"
    phone.refresh_from_db()
    assert phone.details.active_plan.id == "pro30"
    event = AuditEvent.objects.get(action="iproxy.connection.change_plan")
    assert event.data["previous_plan"] == "basic30" and event.data["plan_id"] == "pro30"


def test_it_buys_a_plan_with_a_coupon_for_a_phone_without_one(client, owner, bare_phone, upstream, sandbox):
    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 10000})
    response = _as(client, owner).post(
        f"{STAFF}/{bare_phone.pk}/change-plan/", {"plan_id": "basic30", "coupon_code": "SANDBOX10"}, follow=True
    )
    assert "The coupon was applied." in _messages(response)[0]
    assert upstream.me().balance_cents == 10000 - 1350
    assert AuditEvent.objects.get(action="iproxy.connection.change_plan").data["coupon_applied"] is True


def test_it_shows_the_upstreams_refusal_of_an_unknown_plan(client, owner, phone):
    response = _as(client, owner).post(f"{STAFF}/{phone.pk}/change-plan/", {"plan_id": "nope"}, follow=True)
    assert _messages(response) == ["iProxy refused to change the plan: unknown plan_id"]
    assert not AuditEvent.objects.filter(action__startswith="iproxy.connection.change_plan").exists()


def test_it_refuses_a_plan_change_without_a_plan_id(client, owner, phone, sandbox):
    response = _as(client, owner).post(f"{STAFF}/{phone.pk}/change-plan/", {"plan_id": ""})
    assert response.status_code == 400
    assert sandbox.calls("POST", "/change-plan") == []


def test_a_lost_plan_change_is_audited_as_unknown(client, owner, phone, sandbox):
    _fault(sandbox, "POST /connections/", LOST)
    response = _as(client, owner).post(f"{STAFF}/{phone.pk}/change-plan/", {"plan_id": "pro30"}, follow=True)
    assert "could not confirm" in _messages(response)[0]
    _unknown_audited("iproxy.connection.change_plan")


# Recreate and delete ------------------------------------------------------------------------------------


def test_it_recreates_a_phone_keeping_its_plan(client, owner, phone, upstream):
    plan = phone.details.active_plan
    PhoneCapacity.objects.create(connection=phone, max_ports=4)
    old_accesses = list(phone.children.values_list("pk", flat=True))
    response = _as(client, owner).post(
        f"{STAFF}/{phone.pk}/recreate/", {"name": "Warsaw again", "server_id": "srv-pl-waw-1", "confirm": "on"}
    )
    new = Resource.objects.get(kind=IPROXY_CONNECTION, label="Warsaw again")
    assert response.status_code == 302 and response["Location"] == f"{STAFF}/{new.pk}/"
    assert upstream.get_connection(new.upstream_id).active_plan.expires_at == plan.expires_at
    phone.refresh_from_db()
    assert phone.status == ResourceStatus.VANISHED
    assert set(Resource.objects.filter(pk__in=old_accesses).values_list("status", flat=True)) == {"vanished"}
    assert services.phone_capacity(new) == 4
    assert AuditEvent.objects.get(action="iproxy.connection.recreate").data["new_connection"] == new.upstream_id


def test_it_asks_to_confirm_a_recreate(client, owner, phone, sandbox):
    response = _as(client, owner).post(f"{STAFF}/{phone.pk}/recreate/", {"name": "x", "server_id": "srv-pl-waw-1"})
    assert response.status_code == 400 and "This field is required" in _text(response)
    assert sandbox.calls("POST", "/recreate-connection") == []


def test_it_shows_the_refusal_of_a_recreate_on_an_unknown_server(client, owner, phone):
    response = _as(client, owner).post(
        f"{STAFF}/{phone.pk}/recreate/", {"name": "x", "server_id": "srv-nowhere", "confirm": "on"}, follow=True
    )
    assert _messages(response) == ["iProxy refused to recreate the connection: unknown server_id"]
    phone.refresh_from_db()
    assert phone.status != ResourceStatus.VANISHED


def test_it_refuses_to_delete_a_phone_with_an_active_plan_and_points_to_recreate(client, owner, phone, sandbox):
    response = _as(client, owner).post(f"{STAFF}/{phone.pk}/delete/", {"reason": "mistake", "confirm": "on"})
    assert response.status_code == 409
    page = _text(response)
    assert "has an active plan" in page and 'href="#recreate"' in page and "Recreate the connection instead" in page
    assert sandbox.calls("DELETE") == []


def test_it_deletes_a_phone_without_a_plan_with_a_custom_reason(client, owner, bare_phone, upstream, sandbox):
    response = _as(client, owner).post(
        f"{STAFF}/{bare_phone.pk}/delete/",
        {"reason": "other", "other_reason": "duplicate connection", "confirm": "on"},
        follow=True,
    )
    assert f"Connection {bare_phone.label} deleted upstream." in _messages(response)
    (call,) = sandbox.calls("DELETE")
    assert json.loads(call.request.body) == {"reason": "duplicate connection"}
    assert bare_phone.upstream_id not in {c.id for c in upstream.list_connections()}
    bare_phone.refresh_from_db()
    assert bare_phone.status == ResourceStatus.VANISHED
    assert AuditEvent.objects.get(action="iproxy.connection.delete").data["reason"] == "duplicate connection"


def test_it_asks_for_the_other_reason(client, owner, bare_phone, sandbox):
    response = _as(client, owner).post(f"{STAFF}/{bare_phone.pk}/delete/", {"reason": "other", "confirm": "on"})
    assert response.status_code == 400 and "Say why" in _text(response)
    assert sandbox.calls("DELETE") == []


def test_a_plan_bought_since_the_last_sync_turns_a_409_into_the_same_refusal(client, owner, bare_phone, upstream):
    upstream.change_plan(bare_phone.upstream_id, plan_id="basic30", active_plan=None)
    response = _as(client, owner).post(f"{STAFF}/{bare_phone.pk}/delete/", {"reason": "mistake", "confirm": "on"})
    assert response.status_code == 409 and "has an active plan" in _text(response)


def test_a_lost_delete_is_audited_as_unknown(client, owner, bare_phone, sandbox):
    _fault(sandbox, "DELETE /connections/", LOST)
    response = _as(client, owner).post(
        f"{STAFF}/{bare_phone.pk}/delete/", {"reason": "mistake", "confirm": "on"}, follow=True
    )
    assert "could not confirm" in _messages(response)[0]
    _unknown_audited("iproxy.connection.delete")


# Commands ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", rules.COMMAND_PUSH_ACTIONS)
def test_it_pushes_every_documented_command(client, support, phone, sandbox, command):
    posted = {"command": command, "confirm": "on"}
    if command == "toggle_proxy":
        posted["enabled"] = "false"
    response = _as(client, support).post(f"{STAFF}/{phone.pk}/command/", posted, follow=True)
    assert f"{command} command has been sent" in _messages(response)[0]
    (call,) = sandbox.calls("POST", "/command-push")
    expected = {"action": command} | ({"toggle_proxy_params": {"enabled": False}} if command == "toggle_proxy" else {})
    assert json.loads(call.request.body) == expected
    assert AuditEvent.objects.get(action="iproxy.connection.command").data["command"] == command


@pytest.mark.parametrize("command", sorted(services.DISRUPTIVE_COMMANDS))
def test_it_asks_to_confirm_a_disruptive_command(client, support, phone, sandbox, command):
    posted = {"command": command, "enabled": "true"}
    response = _as(client, support).post(f"{STAFF}/{phone.pk}/command/", posted)
    assert response.status_code == 400 and "tick to confirm" in _text(response)
    assert sandbox.calls("POST", "/command-push") == []


def test_a_harmless_command_needs_no_confirmation(client, support, phone, sandbox):
    _as(client, support).post(f"{STAFF}/{phone.pk}/command/", {"command": "speed_test"})
    assert len(sandbox.calls("POST", "/command-push")) == 1


def test_toggle_proxy_needs_on_or_off(client, support, phone, sandbox):
    response = _as(client, support).post(f"{STAFF}/{phone.pk}/command/", {"command": "toggle_proxy", "confirm": "on"})
    assert response.status_code == 400 and "on or off" in _text(response)
    assert sandbox.calls("POST", "/command-push") == []


def test_an_unknown_command_is_refused(client, support, phone, sandbox):
    response = _as(client, support).post(f"{STAFF}/{phone.pk}/command/", {"command": "selfdestruct"})
    assert response.status_code == 400
    assert sandbox.calls("POST", "/command-push") == []


def test_a_refused_and_a_lost_command_are_reported(client, support, phone, sandbox):
    _fault(sandbox, "POST /connection/", "status", status=400)
    response = _as(client, support).post(f"{STAFF}/{phone.pk}/command/", {"command": "speed_test"}, follow=True)
    assert _messages(response)[0].startswith("iProxy refused to send")
    _fault(sandbox, "POST /connection/", LOST)
    response = client.post(f"{STAFF}/{phone.pk}/command/", {"command": "speed_test"}, follow=True)
    assert "could not confirm" in _messages(response)[0]
    _unknown_audited("iproxy.connection.command")


# PIN code and API key --------------------------------------------------------------------------------------


def test_it_shows_a_new_pin_once_and_keeps_it_nowhere(client, owner, phone, sandbox):
    response = _as(client, owner).post(f"{STAFF}/{phone.pk}/pin-code/")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    pin = json.loads(sandbox.calls("POST", "/pin-code")[0].response.content)["pincode"]
    assert f"<code data-revealed>{pin}</code>" in response.content.decode()
    assert pin not in client.get(f"{STAFF}/{phone.pk}/").content.decode()
    event = AuditEvent.objects.get(action="iproxy.connection.pin_code")
    assert pin not in json.dumps(event.data) and "valid_until" in event.data


def test_it_shows_a_new_connection_key_once_and_never_stores_it(client, owner, phone, sandbox):
    response = _as(client, owner).post(f"{STAFF}/{phone.pk}/api-key/")
    key = json.loads(sandbox.calls("POST", "/api-key")[0].response.content)["api_key"]
    assert key in response.content.decode()
    assert key not in json.dumps(list(AuditEvent.objects.values_list("data", flat=True)))
    phone.refresh_from_db()
    assert key not in json.dumps(phone.upstream)


def test_a_lost_key_is_unknown_and_nothing_is_shown(client, owner, phone, sandbox):
    _fault(sandbox, "POST /connections/", LOST)
    response = _as(client, owner).post(f"{STAFF}/{phone.pk}/api-key/", follow=True)
    assert "could not confirm" in _messages(response)[0] and "data-revealed" not in response.content.decode()
    _unknown_audited("iproxy.connection.api_key")


# Team access --------------------------------------------------------------------------------------------


def test_it_lists_modifies_and_removes_team_members(client, owner, phone, upstream, sandbox):
    page = _as(client, owner).get(f"{STAFF}/{phone.pk}/team/")
    assert "teammate@example.com" in page.content.decode()
    response = client.post(
        f"{STAFF}/{phone.pk}/team/modify/",
        {"email": "new@example.com", "permissions": ["proxy_view", "reboot_device"]},
        follow=True,
    )
    assert "new@example.com now has 2 permission(s)" in _messages(response)[0]
    (call,) = sandbox.calls("POST", "/team-access/modify")
    sent = json.loads(call.request.body)["permissions"]
    assert set(sent) == set(rules.TEAM_PERMISSIONS) and {k for k, v in sent.items() if v} == {
        "proxy_view",
        "reboot_device",
    }
    members = {m.email: m for m in upstream.get_connection(phone.upstream_id).shared_users}
    assert members["new@example.com"].permissions["reboot_device"] is True
    response = client.post(f"{STAFF}/{phone.pk}/team/remove/", {"email": "new@example.com"}, follow=True)
    assert "new@example.com no longer has access" in _messages(response)[0]
    assert "new@example.com" not in {m.email for m in upstream.get_connection(phone.upstream_id).shared_users}
    assert AuditEvent.objects.get(action="iproxy.connection.team_modify").data["granted"] == [
        "proxy_view",
        "reboot_device",
    ]


def test_it_edits_an_existing_members_checkboxes(client, owner, phone, sandbox):
    prefix = "team-" + hashlib.sha256(b"teammate@example.com").hexdigest()[:10]
    _as(client, owner).post(
        f"{STAFF}/{phone.pk}/team/modify/",
        {f"{prefix}-email": "teammate@example.com", f"{prefix}-permissions": ["sms_control"]},
    )
    (call,) = sandbox.calls("POST", "/team-access/modify")
    body = json.loads(call.request.body)
    assert body["email"] == "teammate@example.com"
    assert [k for k, v in body["permissions"].items() if v] == ["sms_control"]


@pytest.mark.parametrize(
    "posted",
    [{"email": "not-an-email"}, {"email": "a@example.com", "permissions": ["fly"]}],
)
def test_it_refuses_a_bad_team_member(client, owner, phone, sandbox, posted):
    response = _as(client, owner).post(f"{STAFF}/{phone.pk}/team/modify/", posted)
    assert response.status_code == 400
    assert sandbox.calls("POST", "/team-access/modify") == []


def test_removing_someone_not_on_the_team_shows_the_upstream_answer(client, owner, phone):
    response = _as(client, owner).post(f"{STAFF}/{phone.pk}/team/remove/", {"email": "ghost@example.com"}, follow=True)
    assert _messages(response)[0].startswith("iProxy refused to remove the team member")


def test_a_lost_team_change_is_audited_as_unknown(client, owner, phone, sandbox):
    _fault(sandbox, "POST /connections/", LOST)
    _as(client, owner).post(f"{STAFF}/{phone.pk}/team/modify/", {"email": "x@example.com"})
    _unknown_audited("iproxy.connection.team_modify")


# OpenVPN -------------------------------------------------------------------------------------------------


def _ovpn(upstream, phone, name):
    return next(o for o in upstream.list_ovpn_accesses(phone.upstream_id) if o.name == name)


def test_it_lists_creates_updates_and_closes_openvpn_accesses(client, support, phone, upstream):
    page = _as(client, support).get(f"{STAFF}/{phone.pk}/ovpn/")
    assert "laptop VPN" in page.content.decode()
    response = client.post(f"{STAFF}/{phone.pk}/ovpn/new/", {"name": "desk VPN", "description": "desk"}, follow=True)
    assert "OpenVPN access “desk VPN” is open" in _messages(response)[0]
    assert 'data-ovpn="desk VPN"' in response.content.decode()  # the list read back from upstream shows it
    created = _ovpn(upstream, phone, "desk VPN")
    prefix = f"ovpn-{created.id}-"
    response = client.post(
        f"{STAFF}/{phone.pk}/ovpn/update/",
        {f"{prefix}ovpn": created.id, f"{prefix}name": "desk VPN 2", f"{prefix}expires_at": "2031-01-02T03:04"},
        follow=True,
    )
    assert "OpenVPN access “desk VPN” saved." in _messages(response)
    updated = _ovpn(upstream, phone, "desk VPN 2")
    assert updated.expires_at.year == 2031
    response = client.post(f"{STAFF}/{phone.pk}/ovpn/close/", {"ovpn": created.id}, follow=True)
    assert "OpenVPN access closed" in _messages(response)[0]
    assert created.id not in {o.id for o in upstream.list_ovpn_accesses(phone.upstream_id)}
    actions = list(AuditEvent.objects.filter(action__startswith="iproxy.ovpn.").values_list("action", flat=True))
    assert sorted(actions) == ["iproxy.ovpn.create", "iproxy.ovpn.delete", "iproxy.ovpn.update"]


def test_it_downloads_a_config_whose_sha1_matches(client, support, phone, upstream):
    ovpn = _ovpn(upstream, phone, "laptop VPN")
    response = _as(client, support).post(f"{STAFF}/{phone.pk}/ovpn/config/", {"ovpn": ovpn.id})
    assert response.status_code == 200 and response["Content-Type"] == "application/x-openvpn-profile"
    assert response["Content-Disposition"] == f'attachment; filename="{phone.upstream_id}-{ovpn.id}.ovpn"'
    assert response.content.startswith(b"# laptop VPN") and b"remote " in response.content
    assert response["X-Config-SHA1"] == hashlib.sha1(response.content, usedforsecurity=False).hexdigest()
    event = AuditEvent.objects.get(action="iproxy.ovpn.config_download")
    assert event.actor == support and event.data["ovpn"] == ovpn.id


def test_it_refuses_a_config_that_fails_its_sha1(client, support, phone, upstream, sandbox, monkeypatch):
    ovpn = _ovpn(upstream, phone, "laptop VPN")
    body = {"config_base64": base64.b64encode(b"client\n").decode(), "config_sha1": "0" * 40}
    # A twin that corrupts the file in transit: its checksum no longer matches.
    monkeypatch.setattr(IProxySim, "_ovpn_config", lambda self, request, cid, oid: json_response(body))
    response = _as(client, support).post(f"{STAFF}/{phone.pk}/ovpn/config/", {"ovpn": ovpn.id}, follow=True)
    assert "failed its check" in _messages(response)[0] and "sha1" in _messages(response)[0]
    assert not AuditEvent.objects.filter(action="iproxy.ovpn.config_download").exists()


@pytest.mark.parametrize(("url", "posted"), [("new/", {"name": ""}), ("close/", {"ovpn": "../x"}), ("config/", {})])
def test_it_refuses_bad_openvpn_input(client, support, phone, sandbox, url, posted):
    response = _as(client, support).post(f"{STAFF}/{phone.pk}/ovpn/{url}", posted)
    assert response.status_code in (302, 400)
    assert [c for c in sandbox.calls() if c.request.method != "GET"] == []


def test_an_unknown_openvpn_access_is_the_upstreams_404(client, support, phone):
    response = _as(client, support).post(f"{STAFF}/{phone.pk}/ovpn/close/", {"ovpn": "missing1"}, follow=True)
    assert _messages(response) == ["iProxy refused to close the OpenVPN access: OpenVPN access not found"]


def test_a_lost_openvpn_create_is_audited_as_unknown(client, support, phone, sandbox):
    _fault(sandbox, "POST /connections/", LOST)
    response = _as(client, support).post(f"{STAFF}/{phone.pk}/ovpn/new/", {"name": "lost"}, follow=True)
    assert "could not confirm" in _messages(response)[0]
    _unknown_audited("iproxy.ovpn.create")


# Action links -----------------------------------------------------------------------------------------------


def test_it_lists_links_masked_creates_one_shown_once_and_deletes_it(client, owner, phone, upstream):
    secrets = [secret for link in upstream.list_action_links(phone.upstream_id) for secret in (link.id, link.link)]
    page = _as(client, owner).get(f"{STAFF}/{phone.pk}/links/").content.decode()
    assert "••••••" in page and not any(secret in page for secret in secrets)
    response = client.post(f"{STAFF}/{phone.pk}/links/new/", {"action": "reboot", "comment": "for Carol"})
    created = next(link for link in upstream.list_action_links(phone.upstream_id) if link.comment == "for Carol")
    assert created.link in response.content.decode() and response["Cache-Control"] == "no-store"
    again = client.get(f"{STAFF}/{phone.pk}/links/").content.decode()
    assert created.link not in again and created.id not in again
    handle = services.link_handle(created)
    response = client.post(f"{STAFF}/{phone.pk}/links/remove/", {"handle": handle}, follow=True)
    assert "The reboot link is deleted" in _messages(response)[0]
    assert created.id not in {link.id for link in upstream.list_action_links(phone.upstream_id)}
    rows = json.dumps([e.data for e in AuditEvent.objects.filter(action__startswith="iproxy.action_link.")])
    assert created.id not in rows and created.link not in rows and handle in rows


@pytest.mark.parametrize(("url", "posted"), [("new/", {"action": "explode"}), ("remove/", {"handle": "zz"})])
def test_it_refuses_bad_link_input(client, owner, phone, sandbox, url, posted):
    response = _as(client, owner).post(f"{STAFF}/{phone.pk}/links/{url}", posted)
    assert response.status_code in (302, 400)
    assert [c for c in sandbox.calls() if c.request.method != "GET"] == []


def test_deleting_a_link_that_is_gone_says_so(client, owner, phone, sandbox):
    response = _as(client, owner).post(f"{STAFF}/{phone.pk}/links/remove/", {"handle": "0" * 16}, follow=True)
    assert _messages(response) == ["That action link is not on this phone any more."]
    assert sandbox.calls("DELETE") == []


def test_a_lost_link_is_audited_as_unknown_and_not_shown(client, owner, phone, sandbox):
    _fault(sandbox, "POST /connections/", LOST)
    response = _as(client, owner).post(f"{STAFF}/{phone.pk}/links/new/", {"action": "changeip"}, follow=True)
    assert "could not confirm" in _messages(response)[0]
    _unknown_audited("iproxy.action_link.create")


# SMS and statistics ---------------------------------------------------------------------------------------


def test_it_shows_the_sms_history_newest_first(client, owner, phone):
    page = _as(client, owner).get(f"{STAFF}/{phone.pk}/sms/").content.decode()
    assert page.index("Your data package renews tomorrow.") < page.index("You have used 80% of your data.")
    assert "Mike" in page


def test_the_sms_page_says_when_iproxy_does_not_answer(client, owner, phone, sandbox):
    _fault(sandbox, "GET /connections/", "status", status=404)
    response = _as(client, owner).get(f"{STAFF}/{phone.pk}/sms/")
    assert response.status_code == 200 and "iProxy did not give the SMS history" in _text(response)


def test_it_shows_statistics_for_a_range_and_time_zone(client, support, phone, sandbox):
    today = timezone.localdate()
    start = today - dt.timedelta(days=2)
    synced = len(sandbox.calls("GET", "/traffic/by-hour-port"))  # the sync read the phones' traffic too
    response = _as(client, support).get(
        f"{STAFF}/{phone.pk}/statistics/", {"start": start.isoformat(), "end": today.isoformat(), "tz": "Asia/Tokyo"}
    )
    assert response.status_code == 200
    (by_day,) = sandbox.calls("GET", "/traffic/by-day")
    # Midnight in Tokyo, sent in UTC: the days are the chosen zone's days.
    tokyo_midnight = f"from={start - dt.timedelta(days=1):%Y-%m-%d}T15%3A00%3A00Z"
    assert "timezone=Asia%2FTokyo" in by_day.request.url and tokyo_midnight in by_day.request.url
    assert len(sandbox.calls("GET", "/traffic/by-hour-port")) == synced + 1
    page = response.content.decode()
    assert page.count("<g data-day>") == 3
    assert "Port " in page and 'data-status="up"' in page and "IP history" in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "2026-01-05", "end": "2026-01-01", "tz": "UTC"}, "must not be after To"),
        ({"start": "2025-01-01", "end": "2025-12-31", "tz": "UTC"}, "at most 92 days"),
        ({"start": "2026-01-01", "end": "2026-01-02", "tz": "Mars/Olympus"}, "time zone name"),
        ({"start": "yesterday", "end": "2026-01-02", "tz": "UTC"}, "Enter a valid date"),
    ],
)
def test_it_refuses_a_bad_range(client, support, phone, sandbox, query, message):
    response = _as(client, support).get(f"{STAFF}/{phone.pk}/statistics/", query)
    assert response.status_code == 400 and message in _text(response)
    assert sandbox.calls("GET", "/traffic/by-day") == []


def test_the_statistics_page_says_when_iproxy_fails(client, support, phone, sandbox):
    _fault(sandbox, "GET /connections/", "status", status=500, times=5)
    response = _as(client, support).get(f"{STAFF}/{phone.pk}/statistics/")
    assert response.status_code == 200 and "iProxy did not give the statistics" in _text(response)


# Capacity ---------------------------------------------------------------------------------------------------


def test_owners_set_how_many_ports_are_sold_on_a_phone(client, owner, phone):
    response = _as(client, owner).post(f"{STAFF}/{phone.pk}/capacity/", {"max_ports": "3"}, follow=True)
    assert "up to 3 ports" in _messages(response)[0]
    assert services.phone_capacity(phone) == 3
    assert "2 open · the shop sells up to 3 here" in response.content.decode()
    assert AuditEvent.objects.get(action="iproxy.connection.capacity").data == {
        "connection": phone.upstream_id,
        "max_ports": 3,
        "previous": 0,
    }


@pytest.mark.parametrize("value", ["-1", "abc", "1001", ""])
def test_it_refuses_a_bad_capacity(client, owner, phone, value):
    assert _as(client, owner).post(f"{STAFF}/{phone.pk}/capacity/", {"max_ports": value}).status_code == 400
    assert not PhoneCapacity.objects.exists()


# Roles -------------------------------------------------------------------------------------------------------

OWNER_ONLY = [
    "change-plan/",
    "recreate/",
    "delete/",
    "pin-code/",
    "api-key/",
    "capacity/",
    "team/",
    "team/modify/",
    "team/remove/",
    "links/",
    "links/new/",
    "links/remove/",
    "sms/",
]
STAFF_URLS = [
    "basic-info/",
    "command/",
    "ovpn/",
    "ovpn/new/",
    "ovpn/update/",
    "ovpn/close/",
    "ovpn/config/",
    "statistics/",
]


@pytest.mark.parametrize("url", OWNER_ONLY)
def test_support_may_not_reach_secrets_money_or_the_team(client, support, phone, sandbox, url):
    client.force_login(support)
    assert client.get(f"{STAFF}/{phone.pk}/{url}").status_code == 403
    assert client.post(f"{STAFF}/{phone.pk}/{url}", {"confirm": "on", "reason": "mistake"}).status_code == 403
    assert [c for c in sandbox.calls() if c.request.method != "GET"] == []


@pytest.mark.parametrize("url", OWNER_ONLY + STAFF_URLS)
def test_customers_may_not_reach_any_console_screen(client, alice, phone, sandbox, url):
    client.force_login(alice)
    assert client.get(f"{STAFF}/{phone.pk}/{url}").status_code == 403
    assert client.post(f"{STAFF}/{phone.pk}/{url}", {}).status_code == 403
    assert [c for c in sandbox.calls() if c.request.method != "GET"] == []


def test_support_does_not_see_owner_only_sections(client, support, phone):
    page = _as(client, support).get(f"{STAFF}/{phone.pk}/").content.decode()
    assert "New PIN code" not in page and "Delete the connection" not in page and "Ports for sale" not in page
    assert "Send another command" in page


def test_an_access_is_not_a_phone(client, owner, phone):
    access = phone.children.filter(kind=IPROXY_ACCESS).first()
    assert _as(client, owner).get(f"{STAFF}/{access.pk}/ovpn/").status_code == 404


def test_an_openvpn_update_that_changes_nothing_is_refused(client, support, phone, upstream, sandbox):
    ovpn = _ovpn(upstream, phone, "laptop VPN")
    prefix = f"ovpn-{ovpn.id}-"
    response = _as(client, support).post(
        f"{STAFF}/{phone.pk}/ovpn/update/",
        {f"{prefix}ovpn": ovpn.id, f"{prefix}name": ovpn.name, f"{prefix}description": ovpn.description},
    )
    assert response.status_code == 400 and "send at least one field to change" in _text(response)
    assert sandbox.calls("POST", "/update") == []


def test_an_openvpn_update_with_a_bad_expiry_is_refused(client, support, phone, upstream, sandbox):
    ovpn = _ovpn(upstream, phone, "laptop VPN")
    prefix = f"ovpn-{ovpn.id}-"
    response = _as(client, support).post(
        f"{STAFF}/{phone.pk}/ovpn/update/", {f"{prefix}ovpn": ovpn.id, f"{prefix}expires_at": "soon"}
    )
    assert response.status_code == 400 and "Enter a valid date/time" in _text(response)
    assert sandbox.calls("POST", "/update") == []


def test_a_renamed_phone_shows_its_new_name_on_its_page(client, support, phone):
    response = _as(client, support).post(f"{STAFF}/{phone.pk}/basic-info/", {"name": "Shelf 7"}, follow=True)
    assert "<h1>Shelf 7" in response.content.decode()


def test_the_danger_zone_says_how_many_customers_lose_their_proxy(client, owner, phone, customer_a):
    access = phone.children.filter(kind=IPROXY_ACCESS).first()
    assignment.resource_assign(resource=access, customer=customer_a, actor=None)
    page = _as(client, owner).get(f"{STAFF}/{phone.pk}/").content.decode()
    assert "1 of them is held by customers" in page and "1 proxy access on it is held by customers" in page


@pytest.mark.parametrize(
    ("route", "tab"),
    [
        ("command/", ""),
        ("pin-code/", ""),
        ("api-key/", ""),
        ("ovpn/new/", "ovpn/"),
        ("ovpn/update/", "ovpn/"),
        ("ovpn/close/", "ovpn/"),
        ("ovpn/config/", "ovpn/"),
        ("team/modify/", "team/"),
        ("team/remove/", "team/"),
        ("links/new/", "links/"),
        ("links/remove/", "links/"),
    ],
)
def test_a_phone_that_ended_upstream_refuses_every_change_back_on_its_tab(client, owner, phone, sandbox, route, tab):
    Resource.objects.filter(pk=phone.pk).update(status=ResourceStatus.VANISHED)
    before = len(sandbox.calls())
    response = _as(client, owner).post(f"{STAFF}/{phone.pk}/{route}", {"name": "x", "email": "a@example.com"})
    assert response.status_code == 302
    assert response.url == f"{STAFF}/{phone.pk}/{tab}"
    assert len(sandbox.calls()) == before  # nothing reached iProxy
    page = client.get(response.url)
    assert "This connection no longer exists upstream." in _messages(page)
