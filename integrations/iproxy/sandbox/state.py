"""The iProxy twin's state: its demo catalog, the dataclass of one phone and the demo account seeded on every reset."""

from __future__ import annotations

import datetime as dt
import random
import string
from dataclasses import dataclass, field
from typing import Any

from integrations.iproxy import rules
from providers.http.parsing import format_rfc3339
from providers.sandbox.core import ProviderSim

API_KEY = "sandbox-key"
DAY = 86400
HOUR = 3600
# Every demo plan is a 30-day plan (SANDBOX.md); prices are in cents of the account currency.
PLANS = {
    "basic30": {"days": 30, "price_cents": 1500},
    "pro30": {"days": 30, "price_cents": 3000},
    "max30": {"days": 30, "price_cents": 4500},
}
COUPON = "SANDBOX10"  # 10% off a purchase or prolongation
COUPON_PERCENT_OFF = 10
# server id -> (country, city, proxy hostname, proxy ip); "vip-" servers are only reachable by server_id.
SERVERS = {
    "srv-pl-waw-1": ("pl", "waw", "x1.pl-waw.sandbox.test", "198.51.100.10"),
    "srv-us-nyc-1": ("us", "nyc", "x1.us-nyc.sandbox.test", "198.51.100.20"),
    "srv-de-fra-1": ("de", "fra", "x1.de-fra.sandbox.test", "198.51.100.30"),
    "vip-nl-ams-1": ("nl", "ams", "vip1.nl-ams.sandbox.test", "198.51.100.40"),
}
DEFAULT_SETTINGS: dict[str, Any] = {
    "prolongation_enabled": False,
    "dns": [],
    "telegram_change_ip_notification_enabled": False,
    "telegram_status_notification_enabled": True,
    "reboot_cron_string": "",
    "low_battery_reboot_threshold": 0,
    "no_network_reboot_timeout_seconds": 0,
    "ip_change_airplane_mode_time_seconds": 0,
    "no_network_airplane_toggle_timeout_seconds": 0,
    "tariff_notify_hours_before_expired": [],
    "no_wifi_inet_disable_wifi_timeout_seconds": 0,
    "no_wifi_connection_reboot_timeout_seconds": 0,
    "tcp_fingerprint": "",
    "ip_change_wait_unique": False,
    "ip_change_wait_unique_attempts": 0,
    "ip_change_wait_unique_lookbehind_minutes": 0,
    "ip_change_enabled": False,
    "ip_change_interval_minutes": 0,
    "macros_url": "",
    "app_restart_interval_minutes": 0,
    "connection_refresh_interval_minutes": 0,
}
# A reboot takes the phone offline for this long.
REBOOT_SECONDS = 60
ID_CHARS = string.ascii_letters + string.digits


def iso(moment: float) -> str:
    return format_rfc3339(dt.datetime.fromtimestamp(moment, tz=dt.UTC))


@dataclass
class Connection:
    id: str
    name: str
    description: str
    server_id: str
    created_at: float
    updated_at: float
    status: str
    status_at: float
    is_onboarding: bool = False
    plan: dict[str, Any] | None = None  # {"id", "started_at", "expires_at"}, times in unix seconds
    settings: dict[str, Any] = field(default_factory=lambda: {**DEFAULT_SETTINGS})
    app_data: dict[str, Any] | None = None
    team: dict[str, dict[str, bool]] = field(default_factory=dict)
    sms: list[dict[str, Any]] = field(default_factory=list)
    ip_changes: list[tuple[float, str]] = field(default_factory=list)
    rebooting_until: float = 0.0


class IProxyState(ProviderSim):
    """The twin's account, phones, proxy and OpenVPN accesses and action links, seeded with the demo set."""

    def reset(self, rng: random.Random, options: dict[str, Any]) -> None:
        self.rng = rng
        # Traffic, uptime and IP history are derived from (salt, connection id, hour), never stored.
        self.salt = rng.getrandbits(64)
        self.api_key = API_KEY
        self.balance_cents = 15000
        self.user = {
            "id": self._new_id(),
            "username": "sandbox",
            "email": "sandbox@example.com",
            "display_name": "Sandbox Reseller",
            "telegram": "@sandbox",
            "proxy_prefix": "sbx",
        }
        self.connections: dict[str, Connection] = {}
        self.proxies: dict[str, dict[str, Any]] = {}
        self.ovpns: dict[str, dict[str, Any]] = {}
        self.links: dict[str, dict[str, Any]] = {}
        self.next_port = 10000 + rng.randrange(0, 5000)
        self._load_demo()

    def _new_id(self, length: int = 10) -> str:
        return "".join(self.rng.choice(ID_CHARS) for _ in range(length))

    def _load_demo(self) -> None:
        now = self.now()
        online = self._demo_connection("online with plan", "srv-pl-waw-1", "online", days_old=90, plan=("basic30", 10))
        offline = self._demo_connection("offline with plan", "srv-us-nyc-1", "offline", days_old=60, plan=("pro30", 25))
        flapping = self._demo_connection("flapping, plan expired", "srv-de-fra-1", "flapping", days_old=45, plan=None)
        flapping.plan = {"id": "basic30", "started_at": now - 35 * DAY, "expires_at": now - 5 * DAY}
        fresh = self._demo_connection("new phone, no data", "vip-nl-ams-1", "nodata", days_old=0, plan=None)
        fresh.is_onboarding, fresh.app_data = True, None

        online.settings.update(dns=["1.1.1.1"], reboot_cron_string="30 */3 * * *", tcp_fingerprint="Win10")
        online.team["teammate@example.com"] = {name: name.endswith("_view") for name in rules.TEAM_PERMISSIONS}
        for index, (sender, contact, text) in enumerate(
            [
                ("Orange", "", "Your data package renews tomorrow."),
                ("+48500100200", "Mike", "Call me back, please."),
                ("Orange", "", "You have used 80% of your data."),
            ]
        ):
            online.sms.append(
                {
                    "id": self._new_id(),
                    "message": text,
                    "from": sender,
                    "from_contact": contact,
                    "created_at": now - (index + 1) * 7 * HOUR,
                }
            )
        self._add_proxy(online, "http", "userpass", "main http proxy")
        self._add_proxy(online, "socks5", "noauth", "office socks5", acl_policy="deny_except", acl_ips=["203.0.113.7"])
        self._add_proxy(offline, "http", "userpass", "backup http proxy", expires_at=now + 20 * DAY)
        self._add_proxy(flapping, "socks5", "userpass", "flaky socks5")
        self._add_ovpn(online, "laptop VPN", "for the office laptop")
        self._add_ovpn(offline, "phone VPN", "")
        self._add_link(online, "changeip", "link for client AAAA")
        self._add_link(online, "reboot", "link for client AAAA")
        self._add_link(flapping, "changeip", "")

    def _demo_connection(
        self, name: str, server_id: str, status: str, *, days_old: int, plan: tuple[str, int] | None
    ) -> Connection:
        now = self.now()
        created = now - days_old * DAY - self.rng.randrange(0, HOUR)
        connection = Connection(
            id=self._new_id(),
            name=name,
            description=f"sandbox demo: {status}",
            server_id=server_id,
            created_at=created,
            updated_at=created,
            status=status,
            status_at=now - self.rng.randrange(60, 6 * HOUR) if status != "nodata" else created,
            app_data=self._app_data(now),
        )
        if plan is not None:
            plan_id, days_used = plan
            started = now - days_used * DAY
            connection.plan = {"id": plan_id, "started_at": started, "expires_at": started + 30 * DAY}
        self.connections[connection.id] = connection
        return connection

    def _app_data(self, now: float) -> dict[str, Any]:
        return {
            "device_info": {
                "is_root": False,
                "manufacturer": "Samsung",
                "model": self.rng.choice(["SM-A236B", "SM-A546B", "SM-G991B"]),
                "android_version": self.rng.choice(["13", "14"]),
                "system_fingerprint": f"{self.rng.getrandbits(32):08x}",
                "system_device_id": f"{self.rng.getrandbits(28):07x}",
                "voice_assist_configured": True,
                "mobile_data_always_on": True,
                "owner_mode_enabled": False,
            },
            "app_id": "com.iproxy.android",
            "app_version": "574",
            "app_version_patch": "1",
            "build_number": "57401",
            "agent_setup_complete": True,
            "ready_to_change_ip": True,
            "wifi_split_enabled": False,
            "last_activity_at": now - self.rng.randrange(5, 300),
            "installation_id": f"phone-{self.rng.getrandbits(128):032x}",
        }

    def _add_proxy(
        self,
        connection: Connection,
        listen_service: str,
        auth_type: str,
        description: str,
        *,
        auth: dict[str, str] | None = None,
        acl_policy: str | None = None,
        acl_ips: list[str] | None = None,
        expires_at: float | None = None,
    ) -> dict[str, Any]:
        if auth_type == "userpass" and auth is None:
            auth = self._new_credentials()
        self.next_port += 1
        proxy = {
            "id": self._new_id(),
            "connection_id": connection.id,
            "description": description,
            "listen_service": listen_service,
            "auth_type": auth_type,
            "auth": auth if auth_type == "userpass" else None,
            "acl_inbound_policy": acl_policy,
            "acl_inbound_ips": acl_ips or [],
            "port": self.next_port,
            "password_updated_at": self.now(),
            "expires_at": expires_at,
        }
        self.proxies[proxy["id"]] = proxy
        return proxy

    def _new_credentials(self) -> dict[str, str]:
        return {"login": f"{self.user['proxy_prefix']}{self._new_id(6).lower()}", "password": self._new_id(12)}

    def _add_ovpn(self, connection: Connection, name: str, description: str) -> dict[str, Any]:
        ovpn = {
            "id": self._new_id(),
            "connection_id": connection.id,
            "name": name,
            "description": description,
            "dns": [],
            "expires_at": self.now() + 20 * 365 * DAY,
        }
        self.ovpns[ovpn["id"]] = ovpn
        return ovpn

    def _add_link(self, connection: Connection, action: str, comment: str) -> dict[str, Any]:
        # Longer than other ids: the link is the only credential needed to use it.
        link = {
            "id": self._new_id(16),
            "action": action,
            "connection_id": connection.id,
            "comment": comment,
            "created_at": self.now(),
        }
        self.links[link["id"]] = link
        return link
