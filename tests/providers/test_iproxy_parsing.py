"""The document's JSON examples parse into the iProxy dataclasses; malformed answers are refused.

The examples are copied from the document; its comments, trailing commas and bracket typos
are removed so that they are JSON (and a curly apostrophe made plain); nothing else is changed.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from decimal import Decimal

import pytest

from integrations.iproxy import client as iproxy
from providers.http import errors
from providers.http.parsing import Reader


def read(cls, text_or_data):
    data = json.loads(text_or_data) if isinstance(text_or_data, str) else text_or_data
    return cls.parse(Reader(data, provider="iproxy", operation="test"))


SETTINGS = """{
    "prolongation_enabled": false,
    "dns": [],
    "telegram_change_ip_notification_enabled": false,
    "telegram_status_notification_enabled": true,
    "reboot_cron_string": "",
    "low_battery_reboot_threshold": 0,
    "no_network_reboot_timeout_seconds": 0,
    "ip_change_airplane_mode_time_seconds": 0,
    "no_network_airplane_toggle_timeout_seconds": 0,
    "tariff_notify_hours_before_expired": [],
    "no_wifi_inet_disable_wifi_timeout_seconds": 0,
    "no_wifi_connection_reboot_timeout_seconds": 0,
    "tcp_fingerprint": "",
    "ip_change_wait_unique": false,
    "ip_change_wait_unique_attempts": 0,
    "ip_change_wait_unique_lookbehind_minutes": 0,
    "ip_change_enabled": false,
    "ip_change_interval_minutes": 0,
    "macros_url": "",
    "app_restart_interval_minutes": 0,
    "connection_refresh_interval_minutes": 0
  }"""

CONNECTION = (
    """{
  "id": "{conn_id}",
  "basic_info": {
    "name": "online connection",
    "description": "connection_description (optional)",
    "created_at": "2025-07-11T10:36:38.006Z",
    "updated_at": "2025-07-11T10:58:51.42Z",
    "server_geo": {
      "country": "pl",
      "city": "waw"
    },
    "is_onboarding": false,
    "user_id": "myOrOwnerUserId",
    "server_id": "someServerId"
  },
  "shared_users": [],
  "plan_info": {
    "active_plan": {
      "id": "nlUs1D8PKL",
      "started_at": "2025-07-11T10:55:10.913Z",
      "expires_at": "2025-08-10T10:55:10.913Z"
    }
  },
  "settings": """
    + SETTINGS
    + """,
  "app_data": {
    "device_info": {
      "is_root": false,
      "manufacturer": "Samsung",
      "model": "SM-A236B",
      "android_version": "14",
      "system_fingerprint": "6e1334d2",
      "system_device_id": "397ff68",
      "voice_assist_configured": true,
      "mobile_data_always_on": true,
      "owner_mode_enabled": false
    },
    "app_id": "com.iproxy.android",
    "app_version": "574",
    "app_version_patch": "1",
    "build_number": "57401",
    "agent_setup_complete": false,
    "ready_to_change_ip": true,
    "wifi_split_enabled": false,
    "last_activity_at": "2025-07-11T10:58:51.417Z",
    "installation_id": "phone-9da94533-e175-42a5-bdcb-f80b4c621117"
  }
}"""
)

JUST_CREATED = (
    """{
  "id": "5ChcNy5QuK",
  "basic_info": {
    "name": "just created connection",
    "description": "connection_description (optional)",
    "created_at": "2025-07-11T10:55:15.22Z",
    "updated_at": "2025-07-11T10:55:36.967Z",
    "server_geo": {
      "country": "pl",
      "city": "waw"
    },
    "is_onboarding": false,
    "server_id": "soMeId"
  },
  "shared_users": [],
  "settings": """
    + SETTINGS.replace('"prolongation_enabled": false', '"prolongation_enabled": true')
    + "}"
)

PROXY_ACCESSES = """{
  "proxy_accesses": [
    {
      "id": "2CiQPfoWcJ",
      "connection_id": "2W1IlyssyF",
      "description": "new proxy description",
      "listen_service": "socks5",
      "auth_type": "userpass",
      "auth": {
        "login": "user",
        "password": "pass"
      },
      "ip": "1.2.3.4",
      "port": 13874,
      "hostname": "x1.fxdx.in",
      "password_updated_at": "2025-07-11T18:05:18.622Z"
    },
    {
      "id": "HjttgsJjG3",
      "connection_id": "2W1IlyssyF",
      "description": "new description",
      "listen_service": "http",
      "auth_type": "userpass",
      "auth": {
        "login": "new_login",
        "password": "new_pass"
      },
      "acl_inbound_policy": "deny_except",
      "acl_inbound_ips": ["1.2.3.4"],
      "ip": "3.2.1.0",
      "port": 13875,
      "hostname": "x1.fxdx.in",
      "password_updated_at": "2025-07-11T18:07:35.919Z"
    }
  ]
}"""

OVPN_ACCESSES = """{
  "ovpn_accesses": [{
    "name": "VPN name",
    "description": "VPN description",
    "status": "active",
    "dns": [],
    "id": "ovpn_id",
    "connection_id": "{conn_id}",
    "expires_at": "2026-01-01T01:01:01Z"
  }]
}"""

ACTION_LINKS = """{
    "action_links": [{
        "id": "xyzXYZ",
        "link": "https://i.fxdx.in/actionlinks/do/reboot/xyzXYZ",
        "action": "reboot",
        "connection_id": "abcdABCD",
        "comment": "link for client AAAA",
        "created_at": "2025-03-19T13:06:30Z"
    }]
}"""


def utc(*args):
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_the_userinfo_example_parses():
    me = read(
        iproxy.UserInfo,
        """{
  "id": "user_id",
  "username": "user_name",
  "email": "[email protected]",
  "balance": "15.89",
  "display_name": "John Doe",
  "telegram": "@username",
  "proxy_prefix": "prefix"
}""",
    )
    assert me.balance == Decimal("15.89") and me.balance_cents == 1589
    assert (me.id, me.telegram, me.proxy_prefix) == ("user_id", "@username", "prefix")


def test_the_basic_user_info_example_parses():
    info = read(
        iproxy.UserBasicInfo,
        '{"id": "<user ID>", "display_name": "John Doe", "telegram": "@username", "proxy_prefix": "prefix"}',
    )
    assert info.display_name == "John Doe"


def test_the_api_key_examples_parse():
    assert read(iproxy.ApiKey, '{"api_key": "<new_api_key_hash>"}').api_key == "<new_api_key_hash>"
    assert read(iproxy.ApiKey, '{"api_key": "new_connection_api_key"}').api_key == "new_connection_api_key"


def test_the_created_connection_example_parses():
    created = read(
        iproxy.CreatedConnection,
        """{
  "id": "created_connection_id",
  "country": "server's country code",
  "city": "server's city",
  "server_id": "server_id"
}""",
    )
    assert created.id == "created_connection_id"


def test_the_get_connection_example_parses():
    connection = read(iproxy.Connection, CONNECTION)
    assert connection.basic_info.created_at == utc(2025, 7, 11, 10, 36, 38, 6000)
    assert connection.basic_info.updated_at == utc(2025, 7, 11, 10, 58, 51, 420000)
    assert connection.basic_info.server_geo.city == "waw"
    assert connection.active_plan.id == "nlUs1D8PKL"
    assert connection.active_plan.expires_at == utc(2025, 8, 10, 10, 55, 10, 913000)
    assert connection.settings.telegram_status_notification_enabled is True
    assert connection.app_data.device_info.model == "SM-A236B"
    assert connection.app_data.last_activity_at.tzinfo is not None
    assert connection.shared_users == ()


def test_the_connection_list_example_parses_with_and_without_a_plan():
    data = json.loads('{"connections": [' + CONNECTION + "," + JUST_CREATED + "]}")
    first, second = (read(iproxy.Connection, item) for item in data["connections"])
    assert first.active_plan is not None
    assert second.active_plan is None and second.app_data is None
    assert second.basic_info.user_id == ""
    assert second.settings.prolongation_enabled is True


def test_the_update_basic_info_example_parses():
    info = read(
        iproxy.ConnectionBasicInfo, '{"id": "connection_id", "name": "new_name", "description": "new_description"}'
    )
    assert (info.name, info.description) == ("new_name", "new_description")


def test_the_update_settings_example_parses():
    settings = read(
        iproxy.ConnectionSettings,
        """{
  "id": "{conn_id}",
  "prolongation_enabled": false,
  "dns": ["1.1.1.1"],
  "telegram_change_ip_notification_enabled": false,
  "telegram_status_notification_enabled": true,
  "reboot_cron_string": "30 */3 * * *",
  "low_battery_reboot_threshold": 0,
  "no_network_reboot_timeout_seconds": 0,
  "ip_change_airplane_mode_time_seconds": 0,
  "no_network_airplane_toggle_timeout_seconds": 0,
  "tariff_notify_hours_before_expired": [
    2,
    12,
    48
  ],
  "no_wifi_inet_disable_wifi_timeout_seconds": 0,
  "no_wifi_connection_reboot_timeout_seconds": 0,
  "tcp_fingerprint": "Win10",
  "ip_change_wait_unique": false,
  "ip_change_wait_unique_attempts": 0,
  "ip_change_wait_unique_lookbehind_minutes": 0,
  "ip_change_enabled": false,
  "ip_change_interval_minutes": 0,
  "macros_url": "https://example.com",
  "app_restart_interval_minutes": 0,
  "connection_refresh_interval_minutes": 0
}""",
    )
    assert settings.connection_id == "{conn_id}"
    assert settings.tariff_notify_hours_before_expired == (2, 12, 48)
    assert settings.tcp_fingerprint == "Win10"


def test_the_team_access_examples_parse():
    access = read(
        iproxy.TeamAccess,
        {
            "email": "[email protected]",
            "permissions": {"airplane_mode_time_edit": False, "action_link_create": True, "action_link_remove": True},
        },
    )
    assert access.permissions["action_link_create"] is True
    assert read(iproxy.RemovedTeamMember, '{"email": "[email protected]"}').email == "[email protected]"


def test_the_change_plan_and_prolongate_examples_parse():
    change = read(
        iproxy.PlanChange,
        """{
  "active_plan": {
    "id": "newPlanID",
    "started_at": "2025-07-13T01:00:00.00Z",
    "expires_at": "2025-08-10T10:55:10.913Z"
  },
  "coupon_code": "CODE",
  "is_coupon_applied": true
}""",
    )
    assert change.active_plan.started_at == utc(2025, 7, 13, 1)
    assert change.is_coupon_applied and change.coupon_code == "CODE"
    prolonged = read(
        iproxy.PlanChange,
        """{
    "is_coupon_applied": true,
    "active_plan": {
      "id": "BNyW1yBaln",
      "started_at": "2025-07-13T04:45:03.26Z",
      "expires_at": "2025-08-01T04:44:58Z"
    }
}""",
    )
    assert prolonged.active_plan.expires_at == utc(2025, 8, 1, 4, 44, 58)
    assert prolonged.coupon_code == ""


@pytest.mark.parametrize(
    "text", ['{"id": "deleted_connection_id"}', '{"id": "new_connection_id"}', '{"id": "4cbI8O21Rd"}']
)
def test_the_id_only_examples_parse(text):
    assert read(iproxy.ObjectRef, text).id == json.loads(text)["id"]


def test_the_sms_example_parses():
    (sms,) = [
        read(iproxy.Sms, item)
        for item in json.loads(
            """{
  "sms_messages": [
    {
      "id": "sms_id",
      "message": "Example message",
      "from": "Somebody",
      "from_contact": "Mike (may be empty)",
      "created_at": "2025-06-01T04:24:48Z"
    }
  ]
}"""
        )["sms_messages"]
    ]
    assert (sms.sender, sms.created_at) == ("Somebody", utc(2025, 6, 1, 4, 24, 48))


def test_the_command_and_action_link_answers_parse():
    assert read(iproxy.CommandSent, '{"message": "{action} command has been sent"}').message.endswith("sent")


def test_the_status_list_example_parses():
    data = json.loads(
        """{
  "connections": [
    {
      "connection_id": "{conn_id}",
      "online_status": "online",
      "last_online_status_update": "2025-07-11T10:58:51.42Z"
    },
    {"connection_id": "other", "online_status": "nodata"}
  ]
}"""
    )
    online, nodata = (read(iproxy.ConnectionStatus, item) for item in data["connections"])
    assert online.last_online_status_update == utc(2025, 7, 11, 10, 58, 51, 420000)
    assert nodata.last_online_status_update is None


def test_the_pin_code_example_parses():
    pin = read(iproxy.PinCode, '{"pincode": "<generated pin>", "expires_at": "2025-05-05T05:05:05Z"}')
    assert pin.expires_at == utc(2025, 5, 5, 5, 5, 5)


def test_the_proxy_access_examples_parse():
    # The create answer of the document is the list's first access with other credentials.
    example = json.loads(PROXY_ACCESSES)["proxy_accesses"][0] | {
        "auth": {"login": "username", "password": "superpassword"}
    }
    created = read(iproxy.ProxyAccess, example)
    assert created.auth.password == "superpassword" and "superpassword" not in repr(created)
    assert created.port == 13874 and created.acl_inbound_ips == ()
    _, second = (read(iproxy.ProxyAccess, item) for item in json.loads(PROXY_ACCESSES)["proxy_accesses"])
    assert second.acl_inbound_policy == "deny_except" and second.acl_inbound_ips == ("1.2.3.4",)


def test_a_proxy_access_with_the_zero_expiry_has_none():
    data = json.loads(PROXY_ACCESSES)["proxy_accesses"][0] | {"expires_at": "0001-01-01T00:00:00Z"}
    assert read(iproxy.ProxyAccess, data).expires_at is None


def test_the_ovpn_examples_parse():
    created = read(
        iproxy.OvpnAccess,
        """{
  "status": "active",
  "name": "new VPN name",
  "description": "new VPN description",
  "expires_at": "2045-07-06T18:23:09.787673959Z",
  "dns": [],
  "id": "1InLOU8GWR",
  "connection_id": "{conn_id}"
}""",
    )
    assert created.expires_at == utc(2045, 7, 6, 18, 23, 9, 787673)
    (listed,) = (read(iproxy.OvpnAccess, item) for item in json.loads(OVPN_ACCESSES)["ovpn_accesses"])
    assert listed.expires_at == utc(2026, 1, 1, 1, 1, 1)


def test_the_ovpn_config_example_is_refused_because_it_is_not_base64():
    example = {"config_base64": "base64 representation of ovpn config", "config_sha1": "sha1 checksum of a config"}
    with pytest.raises(errors.MalformedResponseError, match="base64"):
        read(iproxy.OvpnConfig, example)


def test_an_ovpn_config_must_match_its_sha1():
    config = b"client\ndev tun\nremote x1.fxdx.in 1194\n"
    good = {
        "config_base64": base64.b64encode(config).decode(),
        "config_sha1": hashlib.sha1(config).hexdigest().upper(),
    }
    assert read(iproxy.OvpnConfig, good).config == config
    bad = good | {"config_sha1": hashlib.sha1(config + b"#").hexdigest()}
    with pytest.raises(errors.MalformedResponseError, match="config_sha1"):
        read(iproxy.OvpnConfig, bad)


def test_the_statistics_examples_parse():
    daily = read(
        iproxy.DailyTraffic,
        """{
  "total_in_bytes": 1300000,
  "total_out_bytes": 1000000,
  "daily_stats": [{
    "date": "2025-03-31T00:00:00Z",
    "in_bytes": 1000,
    "out_bytes": 1000
  }]
}""",
    )
    assert daily.daily_stats[0].date == utc(2025, 3, 31)
    (port,) = (
        read(iproxy.PortTraffic, item)
        for item in json.loads(
            """{
  "port_stats": [{
    "port": "20314",
    "total_in_bytes": 1300000,
    "total_out_bytes": 1000000,
    "hourly_stats": [{
      "date": "2025-03-01T14:00:00Z",
      "in_bytes": 1000,
      "out_bytes": 1000
    }]
  }]
}"""
        )["port_stats"]
    )
    assert port.port == "20314" and port.hourly_stats[0].date == utc(2025, 3, 1, 14)
    uptime = read(iproxy.UptimeEntry, '{"date": "2025-03-01T14:00:00Z", "status": "UP"}')
    assert uptime.status == "UP"
    ip = read(iproxy.IpHistoryEntry, '{"date": "2025-03-01T14:00:00Z", "ipv4": "127.0.0.1", "ipv6": "::1"}')
    assert (ip.ipv4, ip.ipv6) == ("127.0.0.1", "::1")


def test_the_action_link_examples_parse():
    (link,) = (read(iproxy.ActionLink, item) for item in json.loads(ACTION_LINKS)["action_links"])
    assert link.link == "https://i.fxdx.in/actionlinks/do/reboot/xyzXYZ"
    assert link.created_at == utc(2025, 3, 19, 13, 6, 30)
    assert "xyzXYZ" not in repr(link)
    assert read(iproxy.ObjectRef, '{"id": "xyzXYZ"}').id == "xyzXYZ"


def test_extra_fields_are_tolerated_and_kept_in_raw():
    data = json.loads(ACTION_LINKS)["action_links"][0] | {"brand_new_field": 1}
    assert read(iproxy.ActionLink, data).raw["brand_new_field"] == 1


@pytest.mark.parametrize(
    ("cls", "data", "match"),
    [
        (iproxy.UserInfo, {"username": "u", "balance": "1.00"}, "missing field id"),
        (iproxy.UserInfo, {"id": "u", "balance": "lots"}, "balance"),
        (iproxy.UserInfo, {"id": "u", "balance": True}, "balance"),
        (iproxy.UserInfo, {"id": "u", "balance": "NaN"}, "balance"),
        (iproxy.Connection, {"id": "c", "settings": json.loads(SETTINGS)}, "basic_info"),
        (iproxy.Connection, json.loads(CONNECTION) | {"settings": {}}, "settings.prolongation_enabled"),
        (
            iproxy.Connection,
            json.loads(CONNECTION) | {"plan_info": {"active_plan": {"id": "p", "started_at": "soon"}}},
            "started_at",
        ),
        (iproxy.ConnectionSettings, json.loads(SETTINGS) | {"dns": [1]}, "dns"),
        (iproxy.ConnectionSettings, json.loads(SETTINGS) | {"tariff_notify_hours_before_expired": ["2"]}, "tariff"),
        (iproxy.ConnectionSettings, json.loads(SETTINGS) | {"ip_change_enabled": "false"}, "ip_change_enabled"),
        (iproxy.ProxyAccess, json.loads(PROXY_ACCESSES)["proxy_accesses"][0] | {"port": "abc"}, "port"),
        (iproxy.ProxyAccess, json.loads(PROXY_ACCESSES)["proxy_accesses"][0] | {"auth": "user:pass"}, "auth"),
        (iproxy.TrafficPoint, {"date": "2025-03-31T00:00:00Z", "in_bytes": 1.5, "out_bytes": 0}, "in_bytes"),
        (iproxy.TrafficPoint, {"date": "2025-03-31", "in_bytes": 1, "out_bytes": 0}, "date"),
        (iproxy.PortTraffic, {"port": None, "total_in_bytes": 0, "total_out_bytes": 0}, "port"),
        (iproxy.ActionLink, {"id": "x", "action": "reboot", "connection_id": "c"}, "link"),
        (iproxy.ConnectionStatus, {"online_status": "online"}, "connection_id"),
        (iproxy.CommandSent, ["reboot command has been sent"], "expected an object"),
    ],
)
def test_a_malformed_answer_is_refused(cls, data, match):
    with pytest.raises(errors.MalformedResponseError, match=match) as caught:
        read(cls, data)
    assert caught.value.provider == "iproxy"
