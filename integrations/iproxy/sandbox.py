"""Sandbox twin of the iProxy Console API and its action links, validating with the same rules as the client."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import random
import re
import string
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from integrations.iproxy import rules
from providers.http.parsing import format_rfc3339, parse_rfc3339
from providers.http.rules import RuleViolation
from providers.sandbox.core import ProviderSim, SandboxError, json_response

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


def _iso(moment: float) -> str:
    return format_rfc3339(dt.datetime.fromtimestamp(moment, tz=dt.UTC))


@dataclass
class _Connection:
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


class IProxySim(ProviderSim):
    name = "iproxy"
    prefixes = ("/iproxy/api/console/v1", "/iproxy/actionlinks")

    # State ---------------------------------------------------------------------

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
        self.connections: dict[str, _Connection] = {}
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
    ) -> _Connection:
        now = self.now()
        created = now - days_old * DAY - self.rng.randrange(0, HOUR)
        connection = _Connection(
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
        connection: _Connection,
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

    def _add_ovpn(self, connection: _Connection, name: str, description: str) -> dict[str, Any]:
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

    def _add_link(self, connection: _Connection, action: str, comment: str) -> dict[str, Any]:
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

    # Control hooks -------------------------------------------------------------

    def set_balance(self, amount_cents: int) -> bool:
        self.balance_cents = amount_cents
        return True

    def set_connection_status(self, connection_id: str, status: str) -> bool:
        connection = self.connections.get(connection_id)
        if connection is None:
            return False
        connection.status, connection.status_at = status, self.now()
        return True

    # HTTP ----------------------------------------------------------------------

    def error_response(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response({"message": message}, status=status, headers=headers)

    def handle(self, request: Request, prefix: str, subpath: str) -> Response:
        if prefix == "/iproxy/actionlinks":
            return self._execute_link(request, subpath)
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            raise SandboxError(401, "invalid or missing API key")
        allowed: list[str] = []
        for method, pattern, handler in self._routes():
            match = pattern.fullmatch(subpath.rstrip("/") or "/")
            if match is None:
                continue
            if method != request.method:
                allowed.append(method)
                continue
            return handler(request, **match.groupdict())
        if allowed:
            raise SandboxError(405, f"{request.method} is not allowed here")
        raise SandboxError(404, "not found")

    def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Response]]]:
        c = r"/connections/(?P<cid>[^/]+)"
        table: list[tuple[str, str, Callable[..., Response]]] = [
            ("GET", "/me", self._me),
            ("POST", "/me/update-basic-info", self._update_me),
            ("POST", "/me/api-key", self._new_api_key),
            ("POST", "/connections", self._create_connection),
            ("GET", "/connections", self._list_connections),
            ("GET", "/connections-status", self._status_list),
            ("GET", c, self._get_connection),
            ("DELETE", c, self._delete_connection),
            ("POST", c + "/update-basic-info", self._update_connection_basic_info),
            ("POST", c + "/update-settings", self._update_settings),
            ("POST", c + "/team-access/modify", self._team_modify),
            ("POST", c + "/team-access/remove", self._team_remove),
            ("POST", c + "/change-plan", self._change_plan),
            ("POST", c + "/prolongate-plan", self._prolongate_plan),
            ("GET", c + "/sms-history", self._sms_history),
            ("POST", r"/connection/(?P<cid>[^/]+)/command-push", self._command_push),
            ("POST", c + "/pin-code", self._pin_code),
            ("POST", c + "/api-key", self._connection_api_key),
            ("POST", "/recreate-connection", self._recreate_connection),
            ("POST", c + "/proxy-access", self._create_proxy),
            ("GET", c + "/proxy-access", self._list_proxies),
            ("POST", c + "/proxy-access/(?P<pid>[^/]+)/update", self._update_proxy),
            ("DELETE", c + "/proxy-access/(?P<pid>[^/]+)", self._delete_proxy),
            ("GET", "/proxy-access", self._list_all_proxies),
            ("POST", c + "/ovpn-access", self._create_ovpn),
            ("GET", c + "/ovpn-access", self._list_ovpns),
            ("GET", c + "/ovpn-access/(?P<oid>[^/]+)/config", self._ovpn_config),
            ("POST", c + "/ovpn-access/(?P<oid>[^/]+)/update", self._update_ovpn),
            ("DELETE", c + "/ovpn-access/(?P<oid>[^/]+)", self._delete_ovpn),
            ("GET", "/ovpn-access", self._list_all_ovpns),
            ("GET", c + "/traffic/by-day", self._traffic_by_day),
            ("GET", c + "/traffic/by-hour-port", self._traffic_by_hour_port),
            ("GET", c + "/uptime", self._uptime),
            ("GET", c + "/ip-history", self._ip_history),
            ("POST", c + "/actionlinks", self._create_link),
            ("GET", c + "/actionlinks", self._list_links),
            ("DELETE", c + "/actionlinks/(?P<lid>[^/]+)", self._delete_link),
            ("GET", "/actionlinks", self._list_all_links),
        ]
        return [(method, re.compile(pattern), handler) for method, pattern, handler in table]

    # Helpers -------------------------------------------------------------------

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        if not request.get_data():
            return {}
        body = request.get_json(force=True, silent=False)
        if not isinstance(body, dict):
            raise SandboxError(400, "the request body must be a JSON object")
        return body

    @staticmethod
    def _refuse(violations: list[RuleViolation]) -> None:
        if violations:
            raise SandboxError(400, "; ".join(str(v) for v in violations))

    def _connection(self, cid: str) -> _Connection:
        connection = self.connections.get(cid)
        if connection is None:
            raise SandboxError(404, "connection not found")
        return connection

    def _active_plan(self, connection: _Connection) -> dict[str, Any] | None:
        plan = connection.plan
        return plan if plan is not None and plan["expires_at"] > self.now() else None

    def _status(self, connection: _Connection) -> str:
        if connection.rebooting_until > self.now() and connection.status != "nodata":
            return "offline"
        return connection.status

    @staticmethod
    def _plan_json(plan: dict[str, Any]) -> dict[str, str]:
        return {"id": plan["id"], "started_at": _iso(plan["started_at"]), "expires_at": _iso(plan["expires_at"])}

    def _connection_json(self, connection: _Connection) -> dict[str, Any]:
        country, city, *_ = SERVERS[connection.server_id]
        data: dict[str, Any] = {
            "id": connection.id,
            "basic_info": {
                "name": connection.name,
                "description": connection.description,
                "created_at": _iso(connection.created_at),
                "updated_at": _iso(connection.updated_at),
                "server_geo": {"country": country, "city": city},
                "is_onboarding": connection.is_onboarding,
                "user_id": self.user["id"],
                "server_id": connection.server_id,
            },
            "shared_users": [
                {"email": email, "permissions": dict(permissions)} for email, permissions in connection.team.items()
            ],
            "settings": dict(connection.settings),
        }
        plan = self._active_plan(connection)
        if plan is not None:
            data["plan_info"] = {"active_plan": self._plan_json(plan)}
        if connection.app_data is not None:
            app_data = dict(connection.app_data)
            app_data["last_activity_at"] = _iso(app_data["last_activity_at"])
            data["app_data"] = app_data
        return data

    def _charge(self, cents: int) -> None:
        if cents > self.balance_cents:
            raise SandboxError(400, "insufficient balance")
        self.balance_cents -= cents

    @staticmethod
    def _discounted(cents: int, coupon_code: object) -> tuple[int, bool]:
        if coupon_code == COUPON:
            return cents * (100 - COUPON_PERCENT_OFF) // 100, True
        return cents, False

    def _check_current_plan(self, connection: _Connection, sent: object) -> dict[str, Any]:
        plan = connection.plan
        if plan is None:
            raise SandboxError(400, "the connection has no plan")
        if not isinstance(sent, dict) or sent.get("id") != plan["id"]:
            raise SandboxError(400, "active_plan does not match the connection's current plan")
        return plan

    # Userinfo API --------------------------------------------------------------

    def _me(self, request: Request) -> Response:
        cents = self.balance_cents
        return json_response({**self.user, "balance": f"{cents // 100}.{cents % 100:02d}"})

    def _update_me(self, request: Request) -> Response:
        body = self._body(request)
        self._refuse(rules.check_user_basic_info(body))
        self.user.update(body)
        keys = ("id", "display_name", "telegram", "proxy_prefix")
        return json_response({key: self.user[key] for key in keys})

    def _new_api_key(self, request: Request) -> Response:
        self.api_key = f"key-{self._new_id(32)}"
        return json_response({"api_key": self.api_key})

    # Connections ---------------------------------------------------------------

    def _create_connection(self, request: Request) -> Response:
        body = self._body(request)
        self._refuse(rules.check_create_connection(body))
        server_id = body.get("server_id") or self._server_at(body["country"].lower(), body["city"])
        if server_id not in SERVERS:
            raise SandboxError(400, "unknown server_id")
        now = self.now()
        connection = _Connection(
            id=self._new_id(),
            name=body["name"],
            description=body.get("description", ""),
            server_id=server_id,
            created_at=now,
            updated_at=now,
            status="nodata",
            status_at=now,
            is_onboarding=True,
        )
        connection.settings["prolongation_enabled"] = body.get("prolongation_enabled", False)
        self.connections[connection.id] = connection
        country, city, *_ = SERVERS[server_id]
        return json_response({"id": connection.id, "country": country, "city": city, "server_id": server_id}, 201)

    @staticmethod
    def _server_at(country: str, city: str) -> str:
        for server_id, (server_country, server_city, *_) in SERVERS.items():
            if (server_country, server_city) == (country, city) and not server_id.startswith("vip-"):
                return server_id
        raise SandboxError(400, f"no server in {country}/{city}")

    def _list_connections(self, request: Request) -> Response:
        return json_response({"connections": [self._connection_json(c) for c in self.connections.values()]})

    def _get_connection(self, request: Request, cid: str) -> Response:
        return json_response(self._connection_json(self._connection(cid)))

    def _delete_connection(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        self._refuse(rules.check_delete_connection(self._body(request)))
        if self._active_plan(connection) is not None:
            raise SandboxError(409, "the connection has an active plan; use /recreate-connection")
        self._forget(connection)
        return json_response({"id": cid})

    def _forget(self, connection: _Connection) -> None:
        del self.connections[connection.id]
        for table in (self.proxies, self.ovpns, self.links):
            for key in [key for key, item in table.items() if item["connection_id"] == connection.id]:
                del table[key]

    def _recreate_connection(self, request: Request) -> Response:
        body = self._body(request)
        self._refuse(rules.check_recreate_connection(body))
        old = self._connection(body["connection_id"])
        if body["server_id"] not in SERVERS:
            raise SandboxError(400, "unknown server_id")
        now = self.now()
        new = _Connection(
            id=self._new_id(),
            name=body["name"],
            description=body.get("description", old.description),
            server_id=body["server_id"],
            created_at=now,
            updated_at=now,
            status="nodata",
            status_at=now,
            is_onboarding=True,
            plan=old.plan,
            settings={**old.settings},
            team=old.team,
        )
        if "prolongation_enabled" in body:
            new.settings["prolongation_enabled"] = body["prolongation_enabled"]
        self._forget(old)
        self.connections[new.id] = new
        return json_response({"id": new.id}, 201)

    def _update_connection_basic_info(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        body = self._body(request)
        self._refuse(rules.check_connection_basic_info(body))
        connection.name = body.get("name", connection.name)
        connection.description = body.get("description", connection.description)
        connection.updated_at = self.now()
        return json_response({"id": cid, "name": connection.name, "description": connection.description})

    def _update_settings(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        body = self._body(request)
        self._refuse(rules.check_update_settings(body))
        connection.settings.update(body)
        connection.updated_at = self.now()
        return json_response({"id": cid, **connection.settings})

    def _team_modify(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        body = self._body(request)
        self._refuse(rules.check_team_access_modify(body))
        permissions = connection.team.setdefault(body["email"], dict.fromkeys(rules.TEAM_PERMISSIONS, False))
        permissions.update(body["permissions"])
        return json_response({"email": body["email"], "permissions": dict(permissions)})

    def _team_remove(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        body = self._body(request)
        self._refuse(rules.check_team_access_remove(body))
        if connection.team.pop(body["email"], None) is None:
            raise SandboxError(404, "no team member with that email on this connection")
        return json_response({"email": body["email"]})

    def _change_plan(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        body = self._body(request)
        self._refuse(rules.check_change_plan(body))
        new = PLANS.get(body["plan_id"])
        if new is None:
            raise SandboxError(400, "unknown plan_id")
        now, current = self.now(), self._active_plan(connection)
        applied = False
        if current is not None:
            self._check_current_plan(connection, body.get("active_plan"))
            # What is left of the old plan is worth the same money on the new one.
            remaining = (current["expires_at"] - now) * PLANS[current["id"]]["price_cents"] / new["price_cents"]
            connection.plan = {
                "id": body["plan_id"],
                "started_at": current["started_at"],
                "expires_at": now + remaining,
            }
        else:
            if body.get("active_plan") is not None:
                raise SandboxError(400, "active_plan does not match the connection's current plan")
            price, applied = self._discounted(new["price_cents"], body.get("coupon_code"))
            self._charge(price)
            connection.plan = {"id": body["plan_id"], "started_at": now, "expires_at": now + new["days"] * DAY}
        answer = {"active_plan": self._plan_json(connection.plan), "is_coupon_applied": applied}
        if "coupon_code" in body:
            answer["coupon_code"] = body["coupon_code"]
        return json_response(answer)

    def _prolongate_plan(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        body = self._body(request)
        self._refuse(rules.check_prolongate_plan(body))
        plan = self._check_current_plan(connection, body.get("active_plan"))
        catalog = PLANS[plan["id"]]
        self._refuse(rules.check_prolongation_days(body["days"], catalog["days"]))
        periods = body["days"] // catalog["days"]
        price, applied = self._discounted(catalog["price_cents"] * periods, body.get("coupon_code"))
        self._charge(price)
        plan["expires_at"] = max(plan["expires_at"], self.now()) + body["days"] * DAY
        answer = {"active_plan": self._plan_json(plan), "is_coupon_applied": applied}
        if "coupon_code" in body:
            answer["coupon_code"] = body["coupon_code"]
        return json_response(answer)

    def _sms_history(self, request: Request, cid: str) -> Response:
        messages = sorted(self._connection(cid).sms, key=lambda sms: sms["created_at"], reverse=True)[:100]
        return json_response({"sms_messages": [{**sms, "created_at": _iso(sms["created_at"])} for sms in messages]})

    def _command_push(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        body = self._body(request)
        self._refuse(rules.check_command_push(body))
        self._perform(connection, body["action"])
        return json_response({"message": f"{body['action']} command has been sent"})

    def _perform(self, connection: _Connection, action: str) -> None:
        if action == "changeip":
            self._change_ip(connection)
        elif action == "reboot":
            connection.rebooting_until = self.now() + REBOOT_SECONDS
        if connection.app_data is not None:
            connection.app_data["last_activity_at"] = self.now()

    def _change_ip(self, connection: _Connection) -> None:
        now = self.now()
        history = self._ip_entries(connection, now - DAY, now)
        current = history[-1]["ipv4"] if history else ""
        new_ip = current
        while new_ip == current:
            new_ip = f"100.{self.rng.randrange(64, 128)}.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}"
        connection.ip_changes.append((now, new_ip))

    def _status_list(self, request: Request) -> Response:
        entries = []
        for connection in self.connections.values():
            status = self._status(connection)
            entry = {"connection_id": connection.id, "online_status": status}
            if status != "nodata":
                entry["last_online_status_update"] = _iso(
                    max(connection.status_at, connection.rebooting_until - REBOOT_SECONDS)
                )
            entries.append(entry)
        return json_response({"connections": entries})

    def _pin_code(self, request: Request, cid: str) -> Response:
        self._connection(cid)
        pincode = f"{self.rng.randrange(10**6):06d}"
        return json_response({"pincode": pincode, "expires_at": _iso(self.now() + 600)})

    def _connection_api_key(self, request: Request, cid: str) -> Response:
        self._connection(cid)
        return json_response({"api_key": f"conn-{self._new_id(24)}"})

    # Proxy accesses ------------------------------------------------------------

    def _proxy_json(self, proxy: dict[str, Any]) -> dict[str, Any]:
        connection = self.connections[proxy["connection_id"]]
        _, _, hostname, ip = SERVERS[connection.server_id]
        data = {
            "id": proxy["id"],
            "connection_id": proxy["connection_id"],
            "description": proxy["description"],
            "listen_service": proxy["listen_service"],
            "auth_type": proxy["auth_type"],
            "ip": ip,
            "port": proxy["port"],
            "hostname": hostname,
            "password_updated_at": _iso(proxy["password_updated_at"]),
        }
        if proxy["auth"] is not None:
            data["auth"] = dict(proxy["auth"])
        if proxy["acl_inbound_policy"]:
            data["acl_inbound_policy"] = proxy["acl_inbound_policy"]
            data["acl_inbound_ips"] = list(proxy["acl_inbound_ips"])
        if proxy["expires_at"] is not None:
            data["expires_at"] = _iso(proxy["expires_at"])
        return data

    @staticmethod
    def _expiry(value: str) -> float | None:
        # The zero time however it is spelt ("...00.000Z", "+00:00") clears the expiry.
        moment = parse_rfc3339(value)
        return None if moment.year == 1 else moment.timestamp()

    def _proxy(self, cid: str, pid: str) -> dict[str, Any]:
        self._connection(cid)
        proxy = self.proxies.get(pid)
        if proxy is None or proxy["connection_id"] != cid:
            raise SandboxError(404, "proxy access not found")
        return proxy

    def _create_proxy(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        body = self._body(request)
        self._refuse(rules.check_proxy_access_create(body))
        proxy = self._add_proxy(
            connection,
            body["listen_service"],
            body["auth_type"],
            body.get("description", ""),
            auth=body.get("auth"),
            # As on update: an IP list without a policy gets the only documented one, never dropped.
            acl_policy=body.get("acl_inbound_policy") or ("deny_except" if body.get("acl_inbound_ips") else None),
            acl_ips=body.get("acl_inbound_ips"),
            expires_at=self._expiry(body["expires_at"]) if "expires_at" in body else None,
        )
        return json_response(self._proxy_json(proxy), 201)

    def _update_proxy(self, request: Request, cid: str, pid: str) -> Response:
        proxy = self._proxy(cid, pid)
        body = self._body(request)
        self._refuse(rules.check_proxy_access_update(body))
        changed = {**proxy}
        for key in ("listen_service", "auth_type", "description"):
            changed[key] = body.get(key, changed[key])
        if "acl_inbound_ips" in body:
            ips = body["acl_inbound_ips"]
            # `[]` switches the ACL off; the only documented policy applies to a non-empty list.
            changed["acl_inbound_ips"] = list(ips)
            changed["acl_inbound_policy"] = (changed["acl_inbound_policy"] or "deny_except") if ips else None
        if "expires_at" in body:
            changed["expires_at"] = self._expiry(body["expires_at"])
        if changed["auth_type"] == "noauth":
            changed["auth"] = None
        elif "auth" in body or changed["auth"] is None:
            changed["auth"] = dict(body.get("auth") or self._new_credentials())
            changed["password_updated_at"] = self.now()
        self._refuse(
            rules.check_proxy_access_state(
                changed["auth_type"], changed["acl_inbound_policy"], changed["acl_inbound_ips"]
            )
        )
        proxy.update(changed)
        return json_response(self._proxy_json(proxy))

    def _delete_proxy(self, request: Request, cid: str, pid: str) -> Response:
        del self.proxies[self._proxy(cid, pid)["id"]]
        return json_response({"id": pid})

    def _list_proxies(self, request: Request, cid: str) -> Response:
        self._connection(cid)
        items = [self._proxy_json(p) for p in self.proxies.values() if p["connection_id"] == cid]
        return json_response({"proxy_accesses": items})

    def _list_all_proxies(self, request: Request) -> Response:
        return json_response({"proxy_accesses": [self._proxy_json(p) for p in self.proxies.values()]})

    # OpenVPN accesses ------------------------------------------------------------

    def _ovpn_json(self, ovpn: dict[str, Any]) -> dict[str, Any]:
        expires_at = ovpn["expires_at"]
        expired = expires_at is not None and expires_at <= self.now()
        data = {
            "id": ovpn["id"],
            "connection_id": ovpn["connection_id"],
            "name": ovpn["name"],
            "description": ovpn["description"],
            "status": "expired" if expired else "active",
            "dns": list(ovpn["dns"]),
        }
        if expires_at is not None:
            data["expires_at"] = _iso(expires_at)
        return data

    def _ovpn(self, cid: str, oid: str) -> dict[str, Any]:
        self._connection(cid)
        ovpn = self.ovpns.get(oid)
        if ovpn is None or ovpn["connection_id"] != cid:
            raise SandboxError(404, "OpenVPN access not found")
        return ovpn

    def _create_ovpn(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        body = self._body(request)
        self._refuse(rules.check_ovpn_access_create(body))
        ovpn = self._add_ovpn(connection, body["name"], body.get("description", ""))
        return json_response(self._ovpn_json(ovpn), 201)

    def _list_ovpns(self, request: Request, cid: str) -> Response:
        self._connection(cid)
        items = [self._ovpn_json(o) for o in self.ovpns.values() if o["connection_id"] == cid]
        return json_response({"ovpn_accesses": items})

    def _list_all_ovpns(self, request: Request) -> Response:
        return json_response({"ovpn_accesses": [self._ovpn_json(o) for o in self.ovpns.values()]})

    def _ovpn_config(self, request: Request, cid: str, oid: str) -> Response:
        ovpn = self._ovpn(cid, oid)
        _, _, hostname, _ = SERVERS[self.connections[cid].server_id]
        seed = hashlib.sha256(f"{self.salt}:{oid}".encode()).digest()
        key_material = base64.b64encode(seed * 8).decode()
        pem = "\n".join(key_material[i : i + 64] for i in range(0, len(key_material), 64))
        config = (
            f"# {ovpn['name']} (iProxy sandbox)\nclient\ndev tun\nproto udp\nremote {hostname} 1194\n"
            "resolv-retry infinite\nnobind\npersist-key\npersist-tun\nremote-cert-tls server\n"
            "cipher AES-256-GCM\nverb 3\n"
            f"<ca>\n-----BEGIN CERTIFICATE-----\n{pem}\n-----END CERTIFICATE-----\n</ca>\n"
        ).encode()
        return json_response(
            {
                "config_base64": base64.b64encode(config).decode(),
                "config_sha1": hashlib.sha1(config, usedforsecurity=False).hexdigest(),
            }
        )

    def _update_ovpn(self, request: Request, cid: str, oid: str) -> Response:
        ovpn = self._ovpn(cid, oid)
        body = self._body(request)
        self._refuse(rules.check_ovpn_access_update(body))
        for key in ("name", "description"):
            ovpn[key] = body.get(key, ovpn[key])
        if "expires_at" in body:
            ovpn["expires_at"] = self._expiry(body["expires_at"])
        return json_response(self._ovpn_json(ovpn))

    def _delete_ovpn(self, request: Request, cid: str, oid: str) -> Response:
        del self.ovpns[self._ovpn(cid, oid)["id"]]
        return json_response({"id": oid})

    # Statistics, derived from (salt, connection, hour) -------------------------------

    def _hash(self, cid: str, hour: int, kind: str) -> int:
        digest = hashlib.sha256(f"{self.salt}:{cid}:{hour}:{kind}".encode()).digest()
        return int.from_bytes(digest[:8], "big")

    def _range(self, request: Request, connection: _Connection) -> tuple[float, float, list[int]]:
        """The requested range and the hour starts in it that the connection existed for, up to now."""
        start, end = request.args.get("from"), request.args.get("to")
        self._refuse(rules.check_time_range(start, end))
        low, high = parse_rfc3339(str(start)).timestamp(), parse_rfc3339(str(end)).timestamp()
        first = int(max(low, connection.created_at) // HOUR) * HOUR
        last = min(high, self.now())
        return low, high, list(range(first, int(last) + 1, HOUR)) if first <= last else []

    def _hour_status(self, connection: _Connection, hour: int) -> str | None:
        """UP or DOWN for the hour, or None where there is no data."""
        if hour + HOUR <= connection.created_at:
            return None
        if hour + HOUR > connection.status_at and connection.status in ("nodata", "offline"):
            return None if connection.status == "nodata" else "DOWN"
        odds = 2 if connection.status == "flapping" else 30
        return "DOWN" if self._hash(connection.id, hour, "up") % odds == 0 else "UP"

    def _uptime(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        _, _, hours = self._range(request, connection)
        statuses = ((hour, self._hour_status(connection, hour)) for hour in hours)
        return json_response({"uptime": [{"date": _iso(h), "status": s} for h, s in statuses if s is not None]})

    def _port_hours(self, connection: _Connection, hours: list[int]) -> dict[int, list[tuple[int, int, int]]]:
        """port -> [(hour, in_bytes, out_bytes)] for the connection's proxy ports."""
        ports = sorted(p["port"] for p in self.proxies.values() if p["connection_id"] == connection.id)
        table: dict[int, list[tuple[int, int, int]]] = {port: [] for port in ports}
        for hour in hours:
            if self._hour_status(connection, hour) != "UP":
                continue
            for port in ports:
                value = self._hash(connection.id, hour, f"traffic:{port}")
                in_bytes = value % 50_000_000
                table[port].append((hour, in_bytes, in_bytes // (4 + value % 5)))
        return table

    def _traffic_by_hour_port(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        _, _, hours = self._range(request, connection)
        stats = []
        for port, points in self._port_hours(connection, hours).items():
            stats.append(
                {
                    "port": str(port),
                    "total_in_bytes": sum(p[1] for p in points),
                    "total_out_bytes": sum(p[2] for p in points),
                    "hourly_stats": [{"date": _iso(h), "in_bytes": i, "out_bytes": o} for h, i, o in points],
                }
            )
        return json_response({"port_stats": stats})

    def _traffic_by_day(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        _, _, hours = self._range(request, connection)
        # As documented, an invalid or empty time zone means UTC.
        zone: dt.tzinfo = dt.UTC
        if not rules.check_timezone(request.args.get("timezone", "")):
            zone = zoneinfo.ZoneInfo(request.args["timezone"])
        days: dict[dt.date, list[int]] = {}
        for hour in hours:
            days.setdefault(dt.datetime.fromtimestamp(hour, tz=zone).date(), [0, 0])
        for points in self._port_hours(connection, hours).values():
            for hour, in_bytes, out_bytes in points:
                totals = days[dt.datetime.fromtimestamp(hour, tz=zone).date()]
                totals[0] += in_bytes
                totals[1] += out_bytes
        daily = []
        for day, (in_bytes, out_bytes) in sorted(days.items()):
            midnight = dt.datetime(day.year, day.month, day.day, tzinfo=zone)
            date = format_rfc3339(midnight) if zone is dt.UTC else midnight.isoformat()
            daily.append({"date": date, "in_bytes": in_bytes, "out_bytes": out_bytes})
        return json_response(
            {
                "total_in_bytes": sum(d["in_bytes"] for d in daily),
                "total_out_bytes": sum(d["out_bytes"] for d in daily),
                "daily_stats": daily,
            }
        )

    def _ip_entries(self, connection: _Connection, low: float, high: float) -> list[dict[str, str]]:
        """IP changes in [low, high]: derived ones (about one in four hours) plus those made by commands."""
        now = self.now()
        first = int(max(low, connection.created_at) // HOUR) * HOUR
        moments: list[tuple[float, str, str]] = []
        for hour in range(first, int(min(high, now)) + 1, HOUR):
            value = self._hash(connection.id, hour, "ip")
            moment = hour + value % HOUR
            if value % 4 or not low <= moment <= min(high, now) or moment < connection.created_at:
                continue
            ipv4 = f"100.{64 + (value >> 8) % 64}.{(value >> 16) % 256}.{1 + (value >> 24) % 254}"
            ipv6 = f"2a00:{(value >> 32) % 65536:x}::{(value >> 48) % 65536:x}" if value % 8 == 0 else ""
            moments.append((moment, ipv4, ipv6))
        moments += [(moment, ip, "") for moment, ip in connection.ip_changes if low <= moment <= high]
        return [{"date": _iso(m), "ipv4": ipv4, "ipv6": ipv6} for m, ipv4, ipv6 in sorted(moments)]

    def _ip_history(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        low, high, _ = self._range(request, connection)
        return json_response({"ip_history": self._ip_entries(connection, low, high)})

    # Action links ----------------------------------------------------------------

    def _link_json(self, request: Request, link: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": link["id"],
            "link": f"{request.host_url}iproxy/actionlinks/do/{link['action']}/{link['id']}",
            "action": link["action"],
            "connection_id": link["connection_id"],
            "comment": link["comment"],
            "created_at": _iso(link["created_at"]),
        }

    def _create_link(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        body = self._body(request)
        self._refuse(rules.check_action_link(body))
        link = self._add_link(connection, body["action"], body.get("comment", ""))
        return json_response({"id": link["id"]}, 201)

    def _links(self, request: Request, cid: str | None) -> Response:
        action = request.args.get("action")
        if action is not None:
            self._refuse(rules.check_action_link_filter(action))
        items = [
            self._link_json(request, link)
            for link in self.links.values()
            if cid in (None, link["connection_id"]) and action in (None, link["action"])
        ]
        return json_response({"action_links": items})

    def _list_links(self, request: Request, cid: str) -> Response:
        self._connection(cid)
        return self._links(request, cid)

    def _list_all_links(self, request: Request) -> Response:
        return self._links(request, None)

    def _delete_link(self, request: Request, cid: str, lid: str) -> Response:
        self._connection(cid)
        link = self.links.get(lid)
        if link is None or link["connection_id"] != cid:
            raise SandboxError(404, "action link not found")
        del self.links[lid]
        return json_response({"id": lid})

    def _execute_link(self, request: Request, subpath: str) -> Response:
        match = re.fullmatch(r"/do/(?P<action>[^/]+)/(?P<lid>[^/]+)", subpath)
        if match is None:
            raise SandboxError(404, "not found")
        if request.method != "GET":
            raise SandboxError(405, f"{request.method} is not allowed here")
        link = self.links.get(match["lid"])
        # The message never repeats the link id: the link is a secret.
        if link is None or link["action"] != match["action"]:
            raise SandboxError(404, "action link not found")
        self._perform(self.connections[link["connection_id"]], link["action"])
        return json_response({"message": f"{link['action']} command has been sent"})
