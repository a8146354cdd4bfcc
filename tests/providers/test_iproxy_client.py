"""The iProxy client against its sandbox twin: every endpoint, rules before sending, secrets kept out of sight."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import zoneinfo

import pytest

from integrations.iproxy import rules
from integrations.iproxy.client import CLEAR, Client
from providers.http import errors
from tests.providers.test_iproxy_rules import EDGE_IDS, SETTINGS_EDGES

ONLINE = "online with plan"
OFFLINE = "offline with plan"
FLAPPING = "flapping, plan expired"
FRESH = "new phone, no data"


@pytest.fixture
def client(sandbox):
    return Client(sandbox.base_url("iproxy"), "sandbox-key")


def demo(sandbox, name):
    """The demo connection with this name, found in the twin's state (no request sent)."""
    sim = sandbox.app.provider("iproxy")
    return next(c for c in sim.connections.values() if c.name == name)


def sent_body(call):
    return json.loads(call.request.body) if call.request.body else None


def now():
    return dt.datetime.now(dt.UTC)


# Userinfo ----------------------------------------------------------------------


def test_it_reads_the_user_and_the_balance(client, sandbox):
    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 1589})
    me = client.me()
    assert me.username == "sandbox"
    assert str(me.balance) == "15.89"
    assert me.balance_cents == 1589


def test_it_updates_basic_user_info_sending_only_the_fields_given(client, sandbox):
    info = client.update_basic_info(display_name="John Doe", telegram="@john")
    assert (info.display_name, info.telegram, info.proxy_prefix) == ("John Doe", "@john", "sbx")
    assert sent_body(sandbox.calls("POST", "/me/update-basic-info")[0]) == {
        "display_name": "John Doe",
        "telegram": "@john",
    }


@pytest.mark.parametrize("value", ["", "x" * 257])
def test_it_refuses_basic_user_info_outside_1_to_256_characters(client, sandbox, value):
    with pytest.raises(errors.InvalidRequestError):
        client.update_basic_info(proxy_prefix=value)
    assert sandbox.calls() == []


def test_a_new_api_key_replaces_the_old_one(client, sandbox):
    old = Client(sandbox.base_url("iproxy"), "sandbox-key")
    key = client.new_api_key()
    assert key.api_key != "sandbox-key"
    assert key.api_key not in repr(key)
    assert client.me().username == "sandbox"  # the client switched to the new key itself
    with pytest.raises(errors.AuthenticationError):
        old.me()
    assert Client(sandbox.base_url("iproxy"), key.api_key).me().username == "sandbox"


def test_it_sends_the_key_as_a_bearer_token(client, sandbox):
    client.me()
    assert sandbox.calls("GET", "/me")[0].request.headers["Authorization"] == "Bearer sandbox-key"


# Connections --------------------------------------------------------------------


def test_it_lists_and_gets_connections(client, sandbox):
    connections = {c.basic_info.name: c for c in client.list_connections()}
    assert set(connections) == {ONLINE, OFFLINE, FLAPPING, FRESH}
    online = client.get_connection(connections[ONLINE].id)
    assert online.active_plan is not None
    assert online.active_plan.expires_at - online.active_plan.started_at == dt.timedelta(days=30)
    assert online.app_data.device_info.manufacturer == "Samsung"
    assert online.settings.dns == ("1.1.1.1",)
    assert online.basic_info.server_geo.country == "pl"
    assert online.shared_users[0].email == "teammate@example.com"
    fresh = connections[FRESH]
    assert fresh.active_plan is None
    assert fresh.app_data is None
    assert fresh.basic_info.is_onboarding


@pytest.mark.parametrize(
    "where", [{"country": "us", "city": "nyc"}, {"server_id": "vip-nl-ams-1"}], ids=["country+city", "server_id"]
)
def test_it_creates_a_connection(client, where):
    created = client.create_connection(name="new phone", description="desk 4", prolongation_enabled=True, **where)
    connection = client.get_connection(created.id)
    assert connection.basic_info.name == "new phone"
    assert connection.settings.prolongation_enabled is True
    assert created.server_id == connection.basic_info.server_id


def test_it_refuses_a_connection_with_both_a_city_and_a_server_before_sending(client, sandbox):
    with pytest.raises(errors.InvalidRequestError) as caught:
        client.create_connection(name="x", country="us", city="nyc", server_id="vip-nl-ams-1")
    assert caught.value.field == "server_id"
    assert sandbox.calls() == []


def test_it_updates_connection_basic_info(client, sandbox):
    connection = demo(sandbox, ONLINE)
    info = client.update_connection_basic_info(connection.id, name="renamed", description="")
    assert (info.name, info.description) == ("renamed", "")
    assert client.get_connection(connection.id).basic_info.name == "renamed"


def test_it_sends_only_the_changed_settings(client, sandbox):
    connection = demo(sandbox, ONLINE)
    settings = client.update_connection_settings(
        connection.id, low_battery_reboot_threshold=95, tariff_notify_hours_before_expired=(2, 12, 48)
    )
    assert sent_body(sandbox.calls("POST", "/update-settings")[0]) == {
        "low_battery_reboot_threshold": 95,
        "tariff_notify_hours_before_expired": [2, 12, 48],
    }
    assert settings.low_battery_reboot_threshold == 95.0
    assert settings.tariff_notify_hours_before_expired == (2, 12, 48)
    assert settings.dns == ("1.1.1.1",)  # untouched
    assert settings.connection_id == connection.id


@pytest.mark.parametrize(("name", "edge", "past"), SETTINGS_EDGES, ids=EDGE_IDS)
def test_it_accepts_each_setting_at_its_edge(client, sandbox, name, edge, past):
    settings = client.update_connection_settings(demo(sandbox, ONLINE).id, **{name: edge})
    assert getattr(settings, name) == (tuple(edge) if isinstance(edge, list) else edge)


@pytest.mark.parametrize(("name", "edge", "past"), SETTINGS_EDGES, ids=EDGE_IDS)
def test_it_refuses_each_setting_one_step_past_its_edge_before_sending(client, sandbox, name, edge, past):
    with pytest.raises(errors.InvalidRequestError) as caught:
        client.update_connection_settings("any", **{name: past})
    assert caught.value.field == name
    assert sandbox.calls() == []


def test_it_refuses_a_battery_threshold_above_95(client, sandbox):
    with pytest.raises(errors.InvalidRequestError, match="between 0 and 95"):
        client.update_connection_settings("any", low_battery_reboot_threshold=95.5)
    assert sandbox.calls() == []


def test_it_modifies_and_removes_team_access(client, sandbox):
    connection = demo(sandbox, OFFLINE)
    access = client.modify_team_access(
        connection.id, email="member@example.com", permissions={"action_link_create": True, "proxy_view": True}
    )
    assert set(access.permissions) == set(rules.TEAM_PERMISSIONS)
    assert access.permissions["action_link_create"] and not access.permissions["connection_remove"]
    assert client.get_connection(connection.id).shared_users[0].email == "member@example.com"
    assert client.remove_team_access(connection.id, email="member@example.com").email == "member@example.com"
    with pytest.raises(errors.NotFoundError):
        client.remove_team_access(connection.id, email="member@example.com")


def test_it_refuses_an_unknown_permission_before_sending(client, sandbox):
    with pytest.raises(errors.InvalidRequestError, match="launch_rockets"):
        client.modify_team_access("any", email="member@example.com", permissions={"launch_rockets": True})
    assert sandbox.calls() == []


def test_changing_the_plan_moves_expires_at(client, sandbox):
    connection = client.get_connection(demo(sandbox, ONLINE).id)
    change = client.change_plan(connection.id, plan_id="pro30", active_plan=connection.active_plan)
    assert change.active_plan.id == "pro30"
    assert change.active_plan.started_at == connection.active_plan.started_at
    # Half the price buys half the remaining time on a plan twice as dear.
    before = connection.active_plan.expires_at - now()
    after = change.active_plan.expires_at - now()
    assert abs(after - before / 2) < dt.timedelta(minutes=1)
    assert sent_body(sandbox.calls("POST", "/change-plan")[0])["active_plan"]["id"] == "basic30"


def test_it_buys_a_plan_with_a_coupon_for_a_connection_without_one(client, sandbox):
    connection = demo(sandbox, FLAPPING)
    change = client.change_plan(connection.id, plan_id="basic30", active_plan=None, coupon_code="SANDBOX10")
    assert change.is_coupon_applied
    assert change.coupon_code == "SANDBOX10"
    assert change.active_plan.expires_at - change.active_plan.started_at == dt.timedelta(days=30)
    assert client.me().balance_cents == 15000 - 1350


def test_prolongation_moves_expires_at_by_the_days(client, sandbox):
    connection = client.get_connection(demo(sandbox, ONLINE).id)
    result = client.prolongate_plan(connection.id, active_plan=connection.active_plan, days=60, plan_days=30)
    assert result.active_plan.expires_at - connection.active_plan.expires_at == dt.timedelta(days=60)
    assert client.get_connection(connection.id).active_plan.expires_at == result.active_plan.expires_at
    assert not result.is_coupon_applied
    assert client.me().balance_cents == 15000 - 2 * 1500


def test_it_refuses_prolongation_days_that_are_not_a_multiple_of_the_plan_before_sending(client, sandbox):
    connection = demo(sandbox, ONLINE)
    plan = client.get_connection(connection.id).active_plan
    calls = len(sandbox.calls())
    with pytest.raises(errors.InvalidRequestError, match="multiple of the plan's 30 days"):
        client.prolongate_plan(connection.id, active_plan=plan, days=45, plan_days=30)
    assert len(sandbox.calls()) == calls
    # Without plan_days the client cannot know: the upstream refuses.
    with pytest.raises(errors.InvalidRequestError, match="multiple"):
        client.prolongate_plan(connection.id, active_plan=plan, days=45)


def test_delete_is_refused_with_an_active_plan_then_recreate_gives_a_new_id(client, sandbox):
    connection = demo(sandbox, ONLINE)
    with pytest.raises(errors.ConflictError) as caught:
        client.delete_connection(connection.id, reason="switch_server")
    assert caught.value.status == 409
    new = client.recreate_connection(connection.id, name="moved", server_id="srv-de-fra-1", description="moved")
    assert new.id != connection.id
    with pytest.raises(errors.NotFoundError):
        client.get_connection(connection.id)
    moved = client.get_connection(new.id)
    assert moved.basic_info.server_geo.country == "de"
    assert moved.active_plan is not None


def test_it_deletes_a_connection_without_an_active_plan(client, sandbox):
    connection = demo(sandbox, FLAPPING)
    assert client.delete_connection(connection.id, reason="duplicate connection blabla").id == connection.id
    assert sent_body(sandbox.calls("DELETE")[0]) == {"reason": "duplicate connection blabla"}
    assert connection.id not in {c.id for c in client.list_connections()}


def test_it_reads_the_sms_history(client, sandbox):
    messages = client.sms_history(demo(sandbox, ONLINE).id)
    assert len(messages) == 3
    assert messages[0].created_at > messages[-1].created_at
    assert {m.sender for m in messages} == {"Orange", "+48500100200"}


@pytest.mark.parametrize("action", [a for a in rules.COMMAND_PUSH_ACTIONS if a != "toggle_proxy"])
def test_it_pushes_every_documented_command_on_the_singular_path(client, sandbox, action):
    connection = demo(sandbox, ONLINE)
    assert client.push_command(connection.id, action).message == f"{action} command has been sent"
    (call,) = sandbox.calls("POST")
    assert call.request.url == f"{sandbox.base_url('iproxy')}/connection/{connection.id}/command-push"


def test_it_pushes_a_command_with_empty_params_as_the_document_shows(client, sandbox):
    assert client.push_command(demo(sandbox, ONLINE).id, "reboot", {}).message == "reboot command has been sent"
    assert sent_body(sandbox.calls("POST")[0]) == {"action": "reboot", "reboot_params": {}}


def test_it_toggles_the_proxy_with_its_params(client, sandbox):
    client.push_command(demo(sandbox, ONLINE).id, "toggle_proxy", {"enabled": False})
    assert sent_body(sandbox.calls("POST")[0]) == {"action": "toggle_proxy", "toggle_proxy_params": {"enabled": False}}


@pytest.mark.parametrize(
    ("action", "params"), [("self_destruct", None), ("toggle_proxy", None), ("toggle_proxy", {"enabled": "on"})]
)
def test_it_refuses_a_bad_command_before_sending(client, sandbox, action, params):
    with pytest.raises(errors.InvalidRequestError):
        client.push_command("any", action, params)
    assert sandbox.calls() == []


def test_it_lists_every_kind_of_status(client, sandbox):
    statuses = {s.online_status: s for s in client.connection_statuses()}
    assert set(statuses) == {"online", "offline", "flapping", "nodata"}
    assert statuses["nodata"].last_online_status_update is None
    assert statuses["online"].last_online_status_update is not None


def test_a_status_set_by_the_control_endpoint_shows_in_the_list(client, sandbox):
    connection = demo(sandbox, ONLINE)
    sandbox.control("connection-status", {"connection_id": connection.id, "online_status": "flapping"})
    status = next(s for s in client.connection_statuses() if s.connection_id == connection.id)
    assert status.online_status == "flapping"


def test_it_generates_a_pin_code_and_a_connection_api_key(client, sandbox):
    connection = demo(sandbox, ONLINE)
    pin = client.new_pin_code(connection.id)
    assert pin.pincode.isdigit() and len(pin.pincode) == 6
    assert pin.pincode not in repr(pin)
    assert pin.expires_at > now()
    key = client.new_connection_api_key(connection.id)
    assert key.api_key and key.api_key not in repr(key)


def test_an_unknown_connection_is_not_found(client):
    with pytest.raises(errors.NotFoundError) as caught:
        client.get_connection("nope")
    assert caught.value.message == "connection not found"


# Proxy accesses ---------------------------------------------------------------------


def test_it_creates_a_proxy_access_with_generated_credentials(client, sandbox):
    connection = demo(sandbox, ONLINE)
    access = client.create_proxy_access(
        connection.id, listen_service="socks5", auth_type="userpass", description="new proxy description"
    )
    assert access.auth.login and access.auth.password
    assert access.auth.password not in repr(access)
    assert access.hostname and access.port > 0
    assert access.expires_at is None
    assert access.id in {a.id for a in client.list_proxy_accesses(connection.id)}
    assert access.id in {a.id for a in client.list_all_proxy_accesses()}


def test_it_creates_a_noauth_proxy_access_with_an_acl_and_an_expiry(client, sandbox):
    connection = demo(sandbox, OFFLINE)
    expiry = dt.datetime(2026, 1, 1, 1, 1, 1, tzinfo=dt.UTC)
    access = client.create_proxy_access(
        connection.id,
        listen_service="http",
        auth_type="noauth",
        acl_inbound_policy="deny_except",
        acl_inbound_ips=["127.0.0.1"],
        expires_at=expiry,
    )
    assert access.auth is None
    assert access.acl_inbound_ips == ("127.0.0.1",)
    assert access.expires_at == expiry
    assert sent_body(sandbox.calls("POST")[0])["expires_at"] == "2026-01-01T01:01:01Z"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"listen_service": "https", "auth_type": "userpass"},
        {"listen_service": "http", "auth_type": "noauth"},
        {"listen_service": "http", "auth_type": "noauth", "acl_inbound_policy": "deny_except", "acl_inbound_ips": []},
        {"listen_service": "http", "auth_type": "userpass", "login": "only-login"},
        {"listen_service": "http", "auth_type": "userpass", "expires_at": dt.datetime(2026, 1, 1)},
    ],
    ids=["bad-service", "noauth-without-acl", "empty-acl", "login-without-password", "naive-expiry"],
)
def test_it_refuses_a_bad_proxy_access_before_sending(client, sandbox, kwargs):
    with pytest.raises(errors.InvalidRequestError):
        client.create_proxy_access("any", **kwargs)
    assert sandbox.calls() == []


def test_it_updates_a_proxy_access_and_clears_its_expiry(client, sandbox):
    connection = demo(sandbox, OFFLINE)
    access = client.list_proxy_accesses(connection.id)[0]
    assert access.expires_at is not None
    updated = client.update_proxy_access(
        connection.id, access.id, login="new_login", password="new_pass", acl_inbound_ips=[], expires_at=CLEAR
    )
    assert sent_body(sandbox.calls("POST")[0]) == {
        "auth": {"login": "new_login", "password": "new_pass"},
        "acl_inbound_ips": [],
        "expires_at": "0001-01-01T00:00:00Z",
    }
    assert updated.expires_at is None
    assert updated.auth.login == "new_login"
    assert updated.password_updated_at >= access.password_updated_at


def test_it_deletes_a_proxy_access(client, sandbox):
    connection = demo(sandbox, ONLINE)
    access = client.list_proxy_accesses(connection.id)[0]
    assert client.delete_proxy_access(connection.id, access.id).id == access.id
    assert access.id not in {a.id for a in client.list_proxy_accesses(connection.id)}
    with pytest.raises(errors.NotFoundError):
        client.delete_proxy_access(connection.id, access.id)


# OpenVPN --------------------------------------------------------------------------------


def test_it_manages_openvpn_accesses(client, sandbox):
    connection = demo(sandbox, FLAPPING)
    created = client.create_ovpn_access(connection.id, name="new VPN name", description="new VPN description")
    assert created.status == "active"
    assert created.expires_at > now() + dt.timedelta(days=365)
    assert [o.id for o in client.list_ovpn_accesses(connection.id)] == [created.id]
    assert created.id in {o.id for o in client.list_all_ovpn_accesses()}
    expiry = dt.datetime(2026, 1, 1, 1, 1, 1, tzinfo=dt.UTC)
    updated = client.update_ovpn_access(connection.id, created.id, name="VPN name", expires_at=expiry)
    assert (updated.name, updated.description, updated.expires_at) == ("VPN name", "new VPN description", expiry)
    assert client.delete_ovpn_access(connection.id, created.id).id == created.id
    assert client.list_ovpn_accesses(connection.id) == []


def test_it_downloads_an_openvpn_config_and_checks_its_sha1(client, sandbox):
    access = client.list_all_ovpn_accesses()[0]
    config = client.ovpn_config(access.connection_id, access.id)
    assert config.text.startswith("# ")
    assert "remote " in config.text and "<ca>" in config.text
    assert config.sha1 == hashlib.sha1(config.config).hexdigest() == config.raw["config_sha1"]
    assert base64.b64decode(config.raw["config_base64"]) == config.config


# Statistics ----------------------------------------------------------------------------


def test_it_reads_daily_traffic_in_a_time_zone(client, sandbox):
    connection = demo(sandbox, ONLINE)
    traffic = client.traffic_by_day(
        connection.id, start=now() - dt.timedelta(days=3), end=now(), timezone="Europe/Lisbon"
    )
    assert 3 <= len(traffic.daily_stats) <= 4
    assert traffic.total_in_bytes == sum(d.in_bytes for d in traffic.daily_stats) > 0
    params = sandbox.calls("GET", "/traffic/by-day")[0].request.url
    assert "from=" in params and "%3A" in params and "timezone=Europe%2FLisbon" in params
    lisbon = zoneinfo.ZoneInfo("Europe/Lisbon")
    for day in traffic.daily_stats:
        local = day.date.astimezone(lisbon)
        assert (local.hour, local.minute, local.utcoffset()) == (0, 0, day.date.utcoffset())


def test_it_url_encodes_an_offset_in_the_range(client, sandbox):
    plus_three = dt.timezone(dt.timedelta(hours=3))
    start = dt.datetime(2025, 7, 1, 3, tzinfo=plus_three)
    client.uptime(demo(sandbox, ONLINE).id, start=start, end=start + dt.timedelta(days=1))
    query = sandbox.calls("GET", "/uptime")[0].request.url.split("?", 1)[1]
    assert query == "from=2025-07-01T00%3A00%3A00Z&to=2025-07-02T00%3A00%3A00Z"


def test_traffic_is_the_same_for_the_same_range(client, sandbox):
    connection = demo(sandbox, ONLINE)
    start, end = now() - dt.timedelta(days=2), now() - dt.timedelta(days=1)
    first = client.traffic_by_hour_and_port(connection.id, start=start, end=end)
    second = client.traffic_by_hour_and_port(connection.id, start=start, end=end)
    assert first == second
    assert len(first) == 2  # one entry per proxy port
    assert len(first[0].hourly_stats) >= 20


def test_statistics_for_a_sub_range_are_a_slice_of_a_wider_range(client, sandbox):
    connection = demo(sandbox, ONLINE)
    end = now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    wide = (end - dt.timedelta(days=7), end)
    narrow = (end - dt.timedelta(days=3), end - dt.timedelta(days=1))

    def inside(points):
        # Hourly points are hour starts in [from, to): the hour starting at `to` is not in the range.
        return [p for p in points if narrow[0] <= p.date < narrow[1]]

    whole = client.uptime(connection.id, start=wide[0], end=wide[1])
    assert client.uptime(connection.id, start=narrow[0], end=narrow[1]) == inside(whole)
    # IP changes are moments: one exactly at `to` belongs to the range.
    whole = client.ip_history(connection.id, start=wide[0], end=wide[1])
    assert client.ip_history(connection.id, start=narrow[0], end=narrow[1]) == [
        entry for entry in whole if narrow[0] <= entry.date <= narrow[1]
    ]
    wide_ports = client.traffic_by_hour_and_port(connection.id, start=wide[0], end=wide[1])
    narrow_ports = client.traffic_by_hour_and_port(connection.id, start=narrow[0], end=narrow[1])
    assert [p.port for p in narrow_ports] == [p.port for p in wide_ports]
    for small, big in zip(narrow_ports, wide_ports, strict=True):
        assert small.hourly_stats == tuple(inside(big.hourly_stats)) and small.hourly_stats


def test_a_range_up_to_midnight_has_no_hour_of_the_next_day(client, sandbox):
    connection = demo(sandbox, ONLINE)
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    today = now().astimezone(tokyo).date()
    end = dt.datetime.combine(today - dt.timedelta(days=1), dt.time.min, tzinfo=tokyo)  # a past midnight
    start = end - dt.timedelta(days=3)

    traffic = client.traffic_by_day(connection.id, start=start, end=end, timezone="Asia/Tokyo")
    hourly = client.uptime(connection.id, start=start, end=end)

    assert [point.date.date() for point in traffic.daily_stats] == [
        (start + dt.timedelta(days=n)).date() for n in range(3)
    ]
    assert len(hourly) == 72 and max(entry.date for entry in hourly) == end - dt.timedelta(hours=1)


def test_it_reads_uptime_and_ip_history(client, sandbox):
    connection = demo(sandbox, ONLINE)
    uptime = client.uptime(connection.id, start=now() - dt.timedelta(hours=6), end=now())
    assert {u.status for u in uptime} <= {"UP", "DOWN"} and len(uptime) >= 6
    history = client.ip_history(connection.id, start=now() - dt.timedelta(days=7), end=now())
    assert history and all(entry.ipv4 for entry in history)


def test_an_offline_connection_is_down_since_it_went_offline(client, sandbox):
    connection = demo(sandbox, ONLINE)
    sandbox.control("connection-status", {"connection_id": connection.id, "online_status": "offline"})
    sandbox.control("clock", {"advance_seconds": 3 * 3600})
    uptime = client.uptime(connection.id, start=now() + dt.timedelta(hours=1), end=now() + dt.timedelta(hours=3))
    assert uptime and {u.status for u in uptime} == {"DOWN"}


@pytest.mark.parametrize(
    ("start", "end", "timezone"),
    [
        (dt.datetime(2025, 7, 1), dt.datetime(2025, 8, 1, tzinfo=dt.UTC), None),
        (dt.datetime(2025, 8, 1, tzinfo=dt.UTC), dt.datetime(2025, 7, 1, tzinfo=dt.UTC), None),
        (dt.datetime(2025, 7, 1, tzinfo=dt.UTC), dt.datetime(2025, 8, 1, tzinfo=dt.UTC), "Europe/Lisbn"),
    ],
    ids=["naive", "reversed", "bad-zone"],
)
def test_it_refuses_a_bad_statistics_range_before_sending(client, sandbox, start, end, timezone):
    with pytest.raises(errors.InvalidRequestError):
        client.traffic_by_day("any", start=start, end=end, timezone=timezone)
    assert sandbox.calls() == []


# Action links ------------------------------------------------------------------------------


def test_it_creates_lists_and_deletes_action_links(client, sandbox):
    connection = demo(sandbox, OFFLINE)
    created = client.create_action_link(connection.id, action="reboot", comment="link for client AAAA")
    (link,) = client.list_action_links(connection.id)
    assert (link.id, link.action, link.comment) == (created.id, "reboot", "link for client AAAA")
    assert link.link == f"{sandbox.root}/iproxy/actionlinks/do/reboot/{created.id}"
    assert created.id in {item.id for item in client.list_all_action_links()}
    assert client.delete_action_link(connection.id, created.id).id == created.id
    assert client.list_action_links(connection.id) == []


def test_it_lists_action_links_by_action(client, sandbox):
    connection = demo(sandbox, ONLINE)
    reboots = client.list_action_links(connection.id, action="reboot")
    assert [link.action for link in reboots] == ["reboot"]
    everywhere = client.list_all_action_links(action="changeip")
    assert len(everywhere) == 2 and {link.action for link in everywhere} == {"changeip"}
    assert sandbox.calls("GET", "/actionlinks")[-1].request.url.endswith("/actionlinks?action=changeip")


def test_it_refuses_an_unknown_action_link_filter_before_sending(client, sandbox):
    with pytest.raises(errors.InvalidRequestError, match="reboot, changeip"):
        client.list_all_action_links(action="refresh")
    assert sandbox.calls() == []


def test_it_refuses_an_unknown_action_link_action_before_sending(client, sandbox):
    with pytest.raises(errors.InvalidRequestError, match="reboot, changeip"):
        client.create_action_link("any", action="refresh")
    assert sandbox.calls() == []


def test_executing_a_changeip_link_changes_the_ip_in_the_history(client, sandbox):
    connection = demo(sandbox, ONLINE)
    link = next(link for link in client.list_action_links(connection.id) if link.action == "changeip")
    start = now() - dt.timedelta(days=1)
    before = client.ip_history(connection.id, start=start, end=now())
    assert client.execute_action_link(link).message == "changeip command has been sent"
    after = client.ip_history(connection.id, start=start, end=now() + dt.timedelta(seconds=5))
    assert len(after) == len(before) + 1
    assert after[-1].ipv4 != before[-1].ipv4
    assert "Authorization" not in sandbox.calls("GET", f"/{link.id}")[0].request.headers


def test_executing_a_reboot_link_takes_the_phone_offline_for_a_minute(client, sandbox):
    connection = demo(sandbox, ONLINE)
    link = next(link for link in client.list_action_links(connection.id) if link.action == "reboot")
    client.execute_action_link(link.link)
    status = {s.connection_id: s.online_status for s in client.connection_statuses()}
    assert status[connection.id] == "offline"
    sandbox.control("clock", {"advance_seconds": 61})
    status = {s.connection_id: s.online_status for s in client.connection_statuses()}
    assert status[connection.id] == "online"


# Secrets --------------------------------------------------------------------------------


def test_the_api_key_never_shows_in_errors_logs_or_repr(sandbox, caplog):
    secret = "sk-very-secret-key"
    client = Client(sandbox.base_url("iproxy"), secret)
    with caplog.at_level(logging.DEBUG), pytest.raises(errors.AuthenticationError) as caught:
        client.me()
    assert caught.value.status == 401
    for text in (str(caught.value), repr(caught.value), repr(client), caplog.text):
        assert secret not in text
    assert all(secret not in str(record.args) for record in caplog.records)


def test_a_new_api_key_never_shows_in_logs(client, caplog):
    with caplog.at_level(logging.DEBUG):
        key = client.new_api_key()
    assert key.api_key not in caplog.text


def test_the_action_link_url_never_shows_in_errors_or_logs(client, sandbox, caplog):
    connection = demo(sandbox, ONLINE)
    link = client.list_action_links(connection.id)[0]
    client.delete_action_link(connection.id, link.id)
    with caplog.at_level(logging.DEBUG), pytest.raises(errors.NotFoundError) as caught:
        client.execute_action_link(link)
    assert link.id not in repr(link)
    for text in (str(caught.value), repr(caught.value), caplog.text):
        assert link.id not in text and link.link not in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_an_action_link_is_sent_once_and_a_lost_answer_hides_the_url(client, sandbox, caplog):
    connection = demo(sandbox, ONLINE)
    link = next(link for link in client.list_action_links(connection.id) if link.action == "changeip")
    start = now() - dt.timedelta(days=1)
    before = client.ip_history(connection.id, start=start, end=now())
    sandbox.control("faults", {"rules": [{"provider": "iproxy", "match": "GET /do/", "kind": "lost_response"}]})
    with caplog.at_level(logging.DEBUG), pytest.raises(errors.UnknownOutcomeError) as caught:
        client.execute_action_link(link)
    assert len(sandbox.calls("GET", f"/{link.id}")) == 1  # not retried: a retry could reboot twice
    assert link.id not in str(caught.value) and link.id not in caplog.text
    assert caught.value.__cause__ is None
    after = client.ip_history(connection.id, start=start, end=now() + dt.timedelta(seconds=5))
    assert len(after) == len(before) + 1  # the change did happen


def test_an_action_link_is_not_retried_on_a_server_error(client, sandbox):
    link = client.list_all_action_links()[0]
    rule = {"provider": "iproxy", "match": "GET /do/", "kind": "status", "status": 502}
    sandbox.control("faults", {"rules": [rule]})
    with pytest.raises(errors.UnknownOutcomeError):
        client.execute_action_link(link)
    assert len(sandbox.calls("GET", f"/{link.id}")) == 1


def test_an_action_link_answering_another_shape_is_malformed(client, sandbox):
    with pytest.raises(errors.MalformedResponseError, match="message"):
        client.execute_action_link(f"{sandbox.root}/_sandbox/clock")


# Faults ---------------------------------------------------------------------------------


def test_a_rate_limited_list_is_retried(sandbox):
    client = Client(sandbox.base_url("iproxy"), "sandbox-key", sleep=lambda _: None)
    sandbox.control("faults", {"rules": [{"provider": "iproxy", "match": "GET /connections", "kind": "rate_limit"}]})
    assert len(client.list_connections()) == 4


def test_a_lost_answer_on_create_is_an_unknown_outcome(client, sandbox):
    sandbox.control(
        "faults", {"rules": [{"provider": "iproxy", "match": "POST /connections", "kind": "lost_response"}]}
    )
    with pytest.raises(errors.UnknownOutcomeError):
        client.create_connection(name="maybe", country="us", city="nyc")
    assert "maybe" in {c.basic_info.name for c in client.list_connections()}
