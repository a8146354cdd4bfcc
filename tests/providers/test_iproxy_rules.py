"""The iProxy validation rules, each at its documented edge and one step past it."""

from __future__ import annotations

import json

import pytest

from integrations.iproxy import rules
from tests.providers.test_iproxy_parsing import SETTINGS

# (setting, a value at the documented edge, a value one step past it); shared by the client and twin tests.
SETTINGS_EDGES = [
    ("low_battery_reboot_threshold", 95, 95.01),
    ("low_battery_reboot_threshold", 0, -0.01),
    ("low_battery_reboot_threshold", 47.5, "50"),
    ("no_network_reboot_timeout_seconds", 3600, 3601),
    ("no_network_reboot_timeout_seconds", 0, -1),
    ("ip_change_airplane_mode_time_seconds", 3600, 3601),
    ("ip_change_airplane_mode_time_seconds", 0, -1),
    ("no_network_airplane_toggle_timeout_seconds", 3600, 3601),
    ("no_network_airplane_toggle_timeout_seconds", 0, -1),
    ("no_wifi_inet_disable_wifi_timeout_seconds", 3600, 3601),
    ("no_wifi_inet_disable_wifi_timeout_seconds", 0, -1),
    ("no_wifi_connection_reboot_timeout_seconds", 40320, 40321),
    ("no_wifi_connection_reboot_timeout_seconds", 0, -1),
    ("ip_change_wait_unique_attempts", 10, 11),
    ("ip_change_wait_unique_attempts", 0, -1),
    ("ip_change_wait_unique_lookbehind_minutes", 64800, 64801),
    ("ip_change_wait_unique_lookbehind_minutes", 0, -1),
    ("ip_change_interval_minutes", 1439, 1440),
    ("ip_change_interval_minutes", 0, -1),
    ("ip_change_interval_minutes", 1, 1.5),
    ("tcp_fingerprint", "iOS", "Win11"),
    ("tcp_fingerprint", "", "win10"),
    ("dns", ["1.1.1.1", "2606:4700:4700::1111"], ["1.1.1.256"]),
    ("dns", [], "1.1.1.1"),
    ("reboot_cron_string", "30 */3 * * *", "30 */3 * *"),
    ("reboot_cron_string", "", "60 * * * *"),
    ("reboot_cron_string", "0 4 1-15 jan-jun mon,fri", "0 4 * * funday"),
    ("macros_url", "https://example.com", "example.com"),
    ("macros_url", "", "ftp://example.com/hook"),
    ("tariff_notify_hours_before_expired", [2, 12, 48], [2, "12"]),
    ("tariff_notify_hours_before_expired", [], [True]),
    ("prolongation_enabled", True, "true"),
    ("ip_change_enabled", False, 0),
    ("ip_change_wait_unique", True, None),
    ("telegram_change_ip_notification_enabled", True, 1),
    ("telegram_status_notification_enabled", False, "no"),
    ("app_restart_interval_minutes", 0, -1),
    ("connection_refresh_interval_minutes", 10080, 2.5),
]
EDGE_IDS = [f"{name}={past!r}" for name, _, past in SETTINGS_EDGES]


@pytest.mark.parametrize(("name", "edge", "past"), SETTINGS_EDGES, ids=EDGE_IDS)
def test_it_accepts_each_setting_at_its_edge(name, edge, past):
    assert rules.check_update_settings({name: edge}) == []


@pytest.mark.parametrize(("name", "edge", "past"), SETTINGS_EDGES, ids=EDGE_IDS)
def test_it_refuses_each_setting_one_step_past_its_edge(name, edge, past):
    violations = rules.check_update_settings({name: past})
    assert [v.field for v in violations] == [name]


def test_it_refuses_a_battery_threshold_above_95():
    (violation,) = rules.check_update_settings({"low_battery_reboot_threshold": 96})
    assert str(violation) == "low_battery_reboot_threshold: must be between 0 and 95"


def test_the_settings_table_covers_every_documented_setting():
    assert set(rules.SETTINGS_RULES) == set(json.loads(SETTINGS))


def test_every_ranged_setting_is_tested_at_both_edges():
    tested = {(name, edge) for name, edge, _ in SETTINGS_EDGES if not isinstance(edge, list)}
    ranged = {
        "low_battery_reboot_threshold": 95,
        "no_network_reboot_timeout_seconds": 3600,
        "ip_change_airplane_mode_time_seconds": 3600,
        "no_network_airplane_toggle_timeout_seconds": 3600,
        "no_wifi_inet_disable_wifi_timeout_seconds": 3600,
        "no_wifi_connection_reboot_timeout_seconds": 40320,
        "ip_change_wait_unique_attempts": 10,
        "ip_change_wait_unique_lookbehind_minutes": 64800,
        "ip_change_interval_minutes": 1439,
    }
    for name, high in ranged.items():
        assert {(name, 0), (name, high)} <= tested, name


def test_it_refuses_an_empty_or_unknown_settings_update():
    assert rules.check_update_settings({})[0].message == "send at least one setting to change"
    assert rules.check_update_settings({"reboot_cron": "* * * * *"})[0].field == "reboot_cron"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "n", "country": "us", "city": "nyc"}, None),
        ({"name": "n", "server_id": "vip-nl-ams-1"}, None),
        ({"name": "n", "country": "us", "city": "nyc", "server_id": "vip-nl-ams-1"}, "server_id"),
        ({"name": "n", "city": "nyc", "server_id": "vip-nl-ams-1"}, "server_id"),
        ({"name": "n"}, "country"),
        ({"name": "n", "country": "us"}, "country"),
        ({"name": "n", "country": "usa", "city": "nyc"}, "country"),
        ({"country": "us", "city": "nyc"}, "name"),
        ({"name": "n", "country": "us", "city": "nyc", "prolongation_enabled": "yes"}, "prolongation_enabled"),
    ],
)
def test_it_checks_where_a_new_connection_lives(body, field):
    violations = rules.check_create_connection(body)
    assert [v.field for v in violations] == ([field] if field else [])


@pytest.mark.parametrize(
    ("value", "ok"),
    [("a", True), ("x" * 256, True), ("", False), ("x" * 257, False), (7, False)],
)
def test_user_basic_info_fields_are_1_to_256_characters(value, ok):
    for name in ("display_name", "telegram", "proxy_prefix"):
        assert (rules.check_user_basic_info({name: value}) == []) is ok


def test_it_refuses_an_empty_user_basic_info_update():
    assert rules.check_user_basic_info({}) != []


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        ({"name": "x" * 256}, True),
        ({"name": ""}, False),
        ({"name": "x" * 257}, False),
        ({"description": ""}, True),
        ({"description": "x" * 257}, False),
        ({}, False),
    ],
)
def test_connection_basic_info_lengths(body, ok):
    assert (rules.check_connection_basic_info(body) == []) is ok


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"listen_service": "http", "auth_type": "userpass"}, None),
        ({"listen_service": "socks5", "auth_type": "userpass", "auth": {"login": "a", "password": "b"}}, None),
        (
            {
                "listen_service": "socks5",
                "auth_type": "noauth",
                "acl_inbound_policy": "deny_except",
                "acl_inbound_ips": ["127.0.0.1"],
            },
            None,
        ),
        ({"listen_service": "http", "auth_type": "userpass", "expires_at": "2026-01-01T01:01:01Z"}, None),
        ({"listen_service": "https", "auth_type": "userpass"}, "listen_service"),
        ({"listen_service": "http", "auth_type": "basic"}, "auth_type"),
        ({"auth_type": "userpass"}, "listen_service"),
        ({"listen_service": "http", "auth_type": "noauth"}, "acl_inbound_policy"),
        (
            {"listen_service": "http", "auth_type": "noauth", "acl_inbound_policy": "deny_except"},
            "acl_inbound_ips",
        ),
        (
            {
                "listen_service": "http",
                "auth_type": "noauth",
                "acl_inbound_policy": "deny_except",
                "acl_inbound_ips": [],
            },
            "acl_inbound_ips",
        ),
        (
            {
                "listen_service": "http",
                "auth_type": "userpass",
                "acl_inbound_policy": "allow_all",
                "acl_inbound_ips": ["1.2.3.4"],
            },
            "acl_inbound_policy",
        ),
        ({"listen_service": "http", "auth_type": "userpass", "expires_at": "2026-01-01 01:01"}, "expires_at"),
        ({"listen_service": "http", "auth_type": "userpass", "expires_at": "2026-01-01T01:01:01"}, "expires_at"),
        ({"listen_service": "http", "auth_type": "userpass", "auth": {"login": "a"}}, "auth.password"),
    ],
)
def test_it_checks_a_new_proxy_access(body, field):
    violations = rules.check_proxy_access_create(body)
    assert [v.field for v in violations][:1] == ([field] if field else [])


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        ({"acl_inbound_ips": []}, True),
        ({"expires_at": rules.ZERO_TIME}, True),
        ({"description": "new description"}, True),
        ({"auth_type": "noauth", "acl_inbound_ips": []}, False),
        ({"auth_type": "noauth", "acl_inbound_ips": ["1.2.3.4"]}, True),
        ({"auth_type": "noauth", "auth": {"login": "a", "password": "b"}}, False),
        ({"acl_inbound_ips": ["1.2.3"]}, False),
        ({"acl_inbound_policy": "deny_except"}, False),
        ({}, False),
    ],
)
def test_it_checks_a_proxy_access_update(body, ok):
    assert (rules.check_proxy_access_update(body) == []) is ok


def test_a_noauth_access_is_never_left_open():
    assert rules.check_proxy_access_state("noauth", None, []) != []
    assert rules.check_proxy_access_state("noauth", "deny_except", ["1.2.3.4"]) == []
    assert rules.check_proxy_access_state("userpass", None, []) == []


@pytest.mark.parametrize(("action", "ok"), [("reboot", True), ("changeip", True), ("refresh", False), ("", False)])
def test_action_links_reboot_or_change_the_ip(action, ok):
    assert (rules.check_action_link({"action": action, "comment": "for client A"}) == []) is ok


@pytest.mark.parametrize(("action", "ok"), [("reboot", True), ("changeip", True), ("refresh", False), ("", False)])
def test_action_links_are_listed_by_reboot_or_changeip(action, ok):
    assert (rules.check_action_link_filter(action) == []) is ok


@pytest.mark.parametrize("action", [a for a in rules.COMMAND_PUSH_ACTIONS if a != "toggle_proxy"])
def test_every_documented_command_is_accepted(action):
    assert rules.check_command_push({"action": action}) == []


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        ({"action": "toggle_proxy", "toggle_proxy_params": {"enabled": True}}, True),
        ({"action": "toggle_proxy", "toggle_proxy_params": {"enabled": "yes"}}, False),
        ({"action": "toggle_proxy"}, False),
        # The document's example: `{"action":"<command_name>", "<command_name>_params": {}}`.
        ({"action": "reboot", "reboot_params": {}}, True),
        ({"action": "reboot", "reboot_params": {"hard": True}}, False),
        ({"action": "reboot", "reboot_params": []}, False),
        ({"action": "self_destruct"}, False),
        ({"action": "toggle_proxy", "toggle_proxy_params": {"enabled": True, "port": 1}}, False),
    ],
)
def test_command_push_params(body, ok):
    assert (rules.check_command_push(body) == []) is ok


@pytest.mark.parametrize(
    ("days", "plan_days", "ok"),
    [
        (30, 30, True),
        (60, 30, True),
        (90, 30, True),
        (45, 30, False),
        (0, 30, False),
        (-30, 30, False),
        (45, None, True),
    ],
)
def test_prolongation_days_are_a_multiple_of_the_plan_days(days, plan_days, ok):
    assert (rules.check_prolongation_days(days, plan_days) == []) is ok


def test_it_knows_every_documented_team_permission():
    assert len(rules.TEAM_PERMISSIONS) == 43
    body = {"email": "member@example.com", "permissions": dict.fromkeys(rules.TEAM_PERMISSIONS, True)}
    assert rules.check_team_access_modify(body) == []


@pytest.mark.parametrize(
    "body",
    [
        {"email": "member@example.com", "permissions": {"launch_rockets": True}},
        {"email": "member@example.com", "permissions": {"proxy_view": "yes"}},
        {"email": "member@example.com", "permissions": {}},
        {"email": "not-an-email", "permissions": {"proxy_view": True}},
    ],
)
def test_it_refuses_bad_team_access(body):
    assert rules.check_team_access_modify(body) != []


@pytest.mark.parametrize(
    ("start", "end", "ok"),
    [
        ("2025-07-01T00:00:00Z", "2025-08-01T03:00:00+03:00", True),
        ("2025-07-01T00:00:00Z", "2025-07-01T00:00:00Z", True),
        ("2025-08-01T00:00:00Z", "2025-07-01T00:00:00Z", False),
        ("2025-07-01", "2025-08-01T00:00:00Z", False),
        (None, "2025-08-01T00:00:00Z", False),
    ],
)
def test_statistics_ranges_are_rfc3339(start, end, ok):
    assert (rules.check_time_range(start, end) == []) is ok


@pytest.mark.parametrize(("zone", "ok"), [("Europe/Lisbon", True), ("UTC", True), ("Mars/Olympus", False), ("", False)])
def test_it_checks_the_time_zone(zone, ok):
    assert (rules.check_timezone(zone) == []) is ok


def test_a_delete_needs_a_reason_and_accepts_custom_text():
    assert rules.check_delete_connection({"reason": "mistake"}) == []
    assert rules.check_delete_connection({"reason": "duplicate connection blabla"}) == []
    assert rules.check_delete_connection({}) != []
