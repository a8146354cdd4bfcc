"""The iProxy twin's HTTP side: the IProxySim class, which routes each request to its handler and answers it."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import zoneinfo
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from integrations.iproxy import rules
from integrations.iproxy.sandbox import statistics
from integrations.iproxy.sandbox.state import (
    COUPON,
    COUPON_PERCENT_OFF,
    DAY,
    PLANS,
    REBOOT_SECONDS,
    SERVERS,
    Connection,
    IProxyState,
    iso,
)
from providers.http.parsing import parse_rfc3339
from providers.http.rules import RuleViolation
from providers.sandbox.core import SandboxError, json_response


class IProxySim(IProxyState):
    """The iProxy Console API and its action links, validating each request with the client's own rules."""

    name = "iproxy"
    prefixes = ("/iproxy/api/console/v1", "/iproxy/actionlinks")

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

    def _connection(self, cid: str) -> Connection:
        connection = self.connections.get(cid)
        if connection is None:
            raise SandboxError(404, "connection not found")
        return connection

    def _active_plan(self, connection: Connection) -> dict[str, Any] | None:
        plan = connection.plan
        return plan if plan is not None and plan["expires_at"] > self.now() else None

    def _status(self, connection: Connection) -> str:
        if connection.rebooting_until > self.now() and connection.status != "nodata":
            return "offline"
        return connection.status

    @staticmethod
    def _plan_json(plan: dict[str, Any]) -> dict[str, str]:
        return {"id": plan["id"], "started_at": iso(plan["started_at"]), "expires_at": iso(plan["expires_at"])}

    def _connection_json(self, connection: Connection) -> dict[str, Any]:
        country, city, *_ = SERVERS[connection.server_id]
        data: dict[str, Any] = {
            "id": connection.id,
            "basic_info": {
                "name": connection.name,
                "description": connection.description,
                "created_at": iso(connection.created_at),
                "updated_at": iso(connection.updated_at),
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
            app_data["last_activity_at"] = iso(app_data["last_activity_at"])
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

    def _check_current_plan(self, connection: Connection, sent: object) -> dict[str, Any]:
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
        connection = Connection(
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

    def _forget(self, connection: Connection) -> None:
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
        new = Connection(
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
        return json_response({"sms_messages": [{**sms, "created_at": iso(sms["created_at"])} for sms in messages]})

    def _command_push(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        body = self._body(request)
        self._refuse(rules.check_command_push(body))
        self._perform(connection, body["action"])
        return json_response({"message": f"{body['action']} command has been sent"})

    def _perform(self, connection: Connection, action: str) -> None:
        if action == "changeip":
            self._change_ip(connection)
        elif action == "reboot":
            connection.rebooting_until = self.now() + REBOOT_SECONDS
        if connection.app_data is not None:
            connection.app_data["last_activity_at"] = self.now()

    def _change_ip(self, connection: Connection) -> None:
        now = self.now()
        history = statistics.ip_entries(self.salt, connection, now - DAY, now, now)
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
                entry["last_online_status_update"] = iso(
                    max(connection.status_at, connection.rebooting_until - REBOOT_SECONDS)
                )
            entries.append(entry)
        return json_response({"connections": entries})

    def _pin_code(self, request: Request, cid: str) -> Response:
        self._connection(cid)
        pincode = f"{self.rng.randrange(10**6):06d}"
        return json_response({"pincode": pincode, "expires_at": iso(self.now() + 600)})

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
            "password_updated_at": iso(proxy["password_updated_at"]),
        }
        if proxy["auth"] is not None:
            data["auth"] = dict(proxy["auth"])
        if proxy["acl_inbound_policy"]:
            data["acl_inbound_policy"] = proxy["acl_inbound_policy"]
            data["acl_inbound_ips"] = list(proxy["acl_inbound_ips"])
        if proxy["expires_at"] is not None:
            data["expires_at"] = iso(proxy["expires_at"])
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
            data["expires_at"] = iso(expires_at)
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

    def _range(self, request: Request, connection: Connection) -> tuple[float, float, list[int]]:
        """The requested range and the hour starts in it that the connection existed for, up to now."""
        start, end = request.args.get("from"), request.args.get("to")
        self._refuse(rules.check_time_range(start, end))
        low, high = parse_rfc3339(str(start)).timestamp(), parse_rfc3339(str(end)).timestamp()
        return low, high, statistics.hours_between(connection, low, high, self.now())

    def _ports(self, connection: Connection) -> list[int]:
        return sorted(p["port"] for p in self.proxies.values() if p["connection_id"] == connection.id)

    def _uptime(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        _, _, hours = self._range(request, connection)
        return json_response({"uptime": statistics.uptime(self.salt, connection, hours)})

    def _traffic_by_hour_port(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        _, _, hours = self._range(request, connection)
        stats = statistics.traffic_by_hour_port(self.salt, connection, self._ports(connection), hours)
        return json_response({"port_stats": stats})

    def _traffic_by_day(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        _, _, hours = self._range(request, connection)
        # As documented, an invalid or empty time zone means UTC.
        zone: dt.tzinfo = dt.UTC
        if not rules.check_timezone(request.args.get("timezone", "")):
            zone = zoneinfo.ZoneInfo(request.args["timezone"])
        return json_response(statistics.traffic_by_day(self.salt, connection, self._ports(connection), hours, zone))

    def _ip_history(self, request: Request, cid: str) -> Response:
        connection = self._connection(cid)
        low, high, _ = self._range(request, connection)
        return json_response({"ip_history": statistics.ip_entries(self.salt, connection, low, high, self.now())})

    # Action links ----------------------------------------------------------------

    def _link_json(self, request: Request, link: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": link["id"],
            "link": f"{request.host_url}iproxy/actionlinks/do/{link['action']}/{link['id']}",
            "action": link["action"],
            "connection_id": link["connection_id"],
            "comment": link["comment"],
            "created_at": iso(link["created_at"]),
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
