"""The iProxy.online Console API client: every documented endpoint, typed results, rules checked before sending."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final, TypeVar
from urllib.parse import quote

from integrations.iproxy import rules
from providers.http import errors
from providers.http.base import BaseClient, redact_in_transport_logs
from providers.http.parsing import Reader, format_rfc3339
from providers.http.rules import RuleViolation, raise_for

PROVIDER = "iproxy"
ACTION_LINK_PATH = "/actionlinks/do/"


class _Clear:
    """The type of CLEAR: "remove this value" as opposed to None, "leave it as it is"."""

    _instance: _Clear | None = None

    def __new__(cls) -> _Clear:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "CLEAR"


# Pass `expires_at=CLEAR` to remove a proxy access's expiry (sent as the document's zero time).
CLEAR: Final = _Clear()


redact_in_transport_logs(ACTION_LINK_PATH, "<action link>")


# Results ---------------------------------------------------------------------


def _raw() -> Any:
    return field(default_factory=dict, repr=False, compare=False)


def _time_or_none(r: Reader, key: str) -> dt.datetime | None:
    """An optional RFC 3339 time; the document's zero time means "none"."""
    moment = r.rfc3339(key, None)
    if moment is not None and moment.year == 1:
        return None
    return moment


def _int_list(r: Reader, key: str) -> tuple[int, ...]:
    values = r.list(key)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise r.error(f"{key} should be a list of whole numbers")
    return tuple(values)


@dataclass(frozen=True)
class UserInfo:
    """Userinfo API 1: the account; `balance` is in the account's currency units."""

    id: str
    username: str
    email: str
    balance: Decimal
    display_name: str
    telegram: str
    proxy_prefix: str
    raw: Mapping[str, Any] = _raw()

    @property
    def balance_cents(self) -> int:
        return int((self.balance * 100).to_integral_value(ROUND_HALF_UP))

    @classmethod
    def parse(cls, r: Reader) -> UserInfo:
        value = r.data.get("balance")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise r.error("balance should be a decimal amount")
        try:
            balance = Decimal(str(value))
        except InvalidOperation:
            raise r.error(f"balance should be a decimal amount, got {value!r}") from None
        if not balance.is_finite():
            raise r.error(f"balance should be a decimal amount, got {value!r}")
        return cls(
            id=r.str("id"),
            username=r.str("username", ""),
            email=r.str("email", ""),
            balance=balance,
            display_name=r.str("display_name", ""),
            telegram=r.str("telegram", ""),
            proxy_prefix=r.str("proxy_prefix", ""),
            raw=r.data,
        )


@dataclass(frozen=True)
class UserBasicInfo:
    """Userinfo API 2: the basic info after an update."""

    id: str
    display_name: str
    telegram: str
    proxy_prefix: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> UserBasicInfo:
        return cls(
            id=r.str("id"),
            display_name=r.str("display_name", ""),
            telegram=r.str("telegram", ""),
            proxy_prefix=r.str("proxy_prefix", ""),
            raw=r.data,
        )


@dataclass(frozen=True)
class ApiKey:
    """Userinfo API 3 and connection API key 2: a freshly generated key (kept out of repr)."""

    api_key: str = field(repr=False)
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> ApiKey:
        return cls(api_key=r.str("api_key"), raw=r.data)


@dataclass(frozen=True)
class PinCode:
    """Connection PIN code 1: a PIN the phone app accepts until `expires_at`."""

    pincode: str = field(repr=False)
    expires_at: dt.datetime
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> PinCode:
        return cls(pincode=r.str("pincode"), expires_at=r.rfc3339("expires_at"), raw=r.data)


@dataclass(frozen=True)
class ObjectRef:
    """An answer that is only an id: deletes, recreate, action link create."""

    id: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> ObjectRef:
        return cls(id=r.str("id"), raw=r.data)


@dataclass(frozen=True)
class CommandSent:
    """Command push and action link execution: the upstream's confirmation text."""

    message: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> CommandSent:
        return cls(message=r.str("message"), raw=r.data)


@dataclass(frozen=True)
class CreatedConnection:
    """Connection control 1: the new connection's id and where it lives."""

    id: str
    country: str
    city: str
    server_id: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> CreatedConnection:
        return cls(
            id=r.str("id"),
            country=r.str("country", ""),
            city=r.str("city", ""),
            server_id=r.str("server_id", ""),
            raw=r.data,
        )


@dataclass(frozen=True)
class ServerGeo:
    country: str
    city: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> ServerGeo:
        return cls(country=r.str("country", ""), city=r.str("city", ""), raw=r.data)


@dataclass(frozen=True)
class BasicInfo:
    name: str
    description: str
    created_at: dt.datetime
    updated_at: dt.datetime | None
    server_geo: ServerGeo | None
    is_onboarding: bool
    user_id: str
    server_id: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> BasicInfo:
        geo = r.object("server_geo", None)
        return cls(
            name=r.str("name"),
            description=r.str("description", ""),
            created_at=r.rfc3339("created_at"),
            updated_at=_time_or_none(r, "updated_at"),
            server_geo=ServerGeo.parse(geo) if geo is not None else None,
            is_onboarding=r.bool("is_onboarding", False),
            user_id=r.str("user_id", ""),
            server_id=r.str("server_id", ""),
            raw=r.data,
        )


@dataclass(frozen=True)
class ActivePlan:
    """A connection's paid plan; pass it back to change_plan and prolongate_plan."""

    id: str
    started_at: dt.datetime
    expires_at: dt.datetime
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> ActivePlan:
        return cls(id=r.str("id"), started_at=r.rfc3339("started_at"), expires_at=r.rfc3339("expires_at"), raw=r.data)

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "started_at": format_rfc3339(self.started_at),
            "expires_at": format_rfc3339(self.expires_at),
        }


@dataclass(frozen=True)
class ConnectionSettings:
    """Connection control 5: the settings of the validation table (`connection_id` when the answer names it)."""

    prolongation_enabled: bool
    dns: tuple[str, ...]
    telegram_change_ip_notification_enabled: bool
    telegram_status_notification_enabled: bool
    reboot_cron_string: str
    low_battery_reboot_threshold: float
    no_network_reboot_timeout_seconds: int
    ip_change_airplane_mode_time_seconds: int
    no_network_airplane_toggle_timeout_seconds: int
    tariff_notify_hours_before_expired: tuple[int, ...]
    no_wifi_inet_disable_wifi_timeout_seconds: int
    no_wifi_connection_reboot_timeout_seconds: int
    tcp_fingerprint: str
    ip_change_wait_unique: bool
    ip_change_wait_unique_attempts: int
    ip_change_wait_unique_lookbehind_minutes: int
    ip_change_enabled: bool
    ip_change_interval_minutes: int
    macros_url: str
    app_restart_interval_minutes: int
    connection_refresh_interval_minutes: int
    connection_id: str = ""
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> ConnectionSettings:
        return cls(
            prolongation_enabled=r.bool("prolongation_enabled"),
            dns=tuple(r.str_list("dns")),
            telegram_change_ip_notification_enabled=r.bool("telegram_change_ip_notification_enabled"),
            telegram_status_notification_enabled=r.bool("telegram_status_notification_enabled"),
            reboot_cron_string=r.str("reboot_cron_string"),
            low_battery_reboot_threshold=r.float("low_battery_reboot_threshold"),
            no_network_reboot_timeout_seconds=r.int("no_network_reboot_timeout_seconds"),
            ip_change_airplane_mode_time_seconds=r.int("ip_change_airplane_mode_time_seconds"),
            no_network_airplane_toggle_timeout_seconds=r.int("no_network_airplane_toggle_timeout_seconds"),
            tariff_notify_hours_before_expired=_int_list(r, "tariff_notify_hours_before_expired"),
            no_wifi_inet_disable_wifi_timeout_seconds=r.int("no_wifi_inet_disable_wifi_timeout_seconds"),
            no_wifi_connection_reboot_timeout_seconds=r.int("no_wifi_connection_reboot_timeout_seconds"),
            tcp_fingerprint=r.str("tcp_fingerprint"),
            ip_change_wait_unique=r.bool("ip_change_wait_unique"),
            ip_change_wait_unique_attempts=r.int("ip_change_wait_unique_attempts"),
            ip_change_wait_unique_lookbehind_minutes=r.int("ip_change_wait_unique_lookbehind_minutes"),
            ip_change_enabled=r.bool("ip_change_enabled"),
            ip_change_interval_minutes=r.int("ip_change_interval_minutes"),
            macros_url=r.str("macros_url"),
            app_restart_interval_minutes=r.int("app_restart_interval_minutes"),
            connection_refresh_interval_minutes=r.int("connection_refresh_interval_minutes"),
            connection_id=r.str("id", ""),
            raw=r.data,
        )


@dataclass(frozen=True)
class TeamAccess:
    """Connection control 6: a team member and every permission's state."""

    email: str
    permissions: Mapping[str, bool]
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> TeamAccess:
        permissions = r.object("permissions", None)
        granted: dict[str, bool] = {}
        if permissions is not None:
            granted = {key: permissions.bool(key) for key in permissions.data}
        return cls(email=r.str("email"), permissions=granted, raw=r.data)


@dataclass(frozen=True)
class RemovedTeamMember:
    """Connection control 7: whose access was removed."""

    email: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> RemovedTeamMember:
        return cls(email=r.str("email"), raw=r.data)


@dataclass(frozen=True)
class DeviceInfo:
    is_root: bool
    manufacturer: str
    model: str
    android_version: str
    system_fingerprint: str
    system_device_id: str
    voice_assist_configured: bool
    mobile_data_always_on: bool
    owner_mode_enabled: bool
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> DeviceInfo:
        return cls(
            is_root=r.bool("is_root", False),
            manufacturer=r.str("manufacturer", ""),
            model=r.str("model", ""),
            android_version=r.str("android_version", ""),
            system_fingerprint=r.str("system_fingerprint", ""),
            system_device_id=r.str("system_device_id", ""),
            voice_assist_configured=r.bool("voice_assist_configured", False),
            mobile_data_always_on=r.bool("mobile_data_always_on", False),
            owner_mode_enabled=r.bool("owner_mode_enabled", False),
            raw=r.data,
        )


@dataclass(frozen=True)
class AppData:
    """What the phone app reports; absent until a phone is set up."""

    device_info: DeviceInfo | None
    app_id: str
    app_version: str
    app_version_patch: str
    build_number: str
    agent_setup_complete: bool
    ready_to_change_ip: bool
    wifi_split_enabled: bool
    last_activity_at: dt.datetime | None
    installation_id: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> AppData:
        device = r.object("device_info", None)
        return cls(
            device_info=DeviceInfo.parse(device) if device is not None else None,
            app_id=r.str("app_id", ""),
            app_version=r.str("app_version", ""),
            app_version_patch=r.str("app_version_patch", ""),
            build_number=r.str("build_number", ""),
            agent_setup_complete=r.bool("agent_setup_complete", False),
            ready_to_change_ip=r.bool("ready_to_change_ip", False),
            wifi_split_enabled=r.bool("wifi_split_enabled", False),
            last_activity_at=_time_or_none(r, "last_activity_at"),
            installation_id=r.str("installation_id", ""),
            raw=r.data,
        )


@dataclass(frozen=True)
class Connection:
    """Connection control 2 and 3: one connection (a phone) with its plan, settings and app data."""

    id: str
    basic_info: BasicInfo
    shared_users: tuple[TeamAccess, ...]
    active_plan: ActivePlan | None
    settings: ConnectionSettings
    app_data: AppData | None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> Connection:
        plan_info = r.object("plan_info", None)
        plan = plan_info.object("active_plan", None) if plan_info is not None else None
        app_data = r.object("app_data", None)
        return cls(
            id=r.str("id"),
            basic_info=BasicInfo.parse(r.object("basic_info")),
            shared_users=tuple(TeamAccess.parse(user) for user in r.objects("shared_users", [])),
            active_plan=ActivePlan.parse(plan) if plan is not None else None,
            settings=ConnectionSettings.parse(r.object("settings")),
            app_data=AppData.parse(app_data) if app_data is not None else None,
            raw=r.data,
        )


@dataclass(frozen=True)
class ConnectionBasicInfo:
    """Connection control 4: the name and description after an update."""

    id: str
    name: str
    description: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> ConnectionBasicInfo:
        return cls(id=r.str("id"), name=r.str("name", ""), description=r.str("description", ""), raw=r.data)


@dataclass(frozen=True)
class PlanChange:
    """Connection control 8 and 13: the plan after a change or prolongation, and whether the coupon counted."""

    active_plan: ActivePlan
    coupon_code: str
    is_coupon_applied: bool
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> PlanChange:
        return cls(
            active_plan=ActivePlan.parse(r.object("active_plan")),
            coupon_code=r.str("coupon_code", ""),
            is_coupon_applied=r.bool("is_coupon_applied", False),
            raw=r.data,
        )


@dataclass(frozen=True)
class Sms:
    """Connection control 10: one SMS the phone received (`sender` is the document's `from`)."""

    id: str
    message: str
    sender: str
    from_contact: str
    created_at: dt.datetime
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> Sms:
        return cls(
            id=r.str("id"),
            message=r.str("message", ""),
            sender=r.str("from", ""),
            from_contact=r.str("from_contact", ""),
            created_at=r.rfc3339("created_at"),
            raw=r.data,
        )


@dataclass(frozen=True)
class ConnectionStatus:
    """Connection control 12: online, offline, nodata or flapping; no update time while nodata."""

    connection_id: str
    online_status: str
    last_online_status_update: dt.datetime | None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> ConnectionStatus:
        return cls(
            connection_id=r.str("connection_id"),
            online_status=r.str("online_status"),
            last_online_status_update=_time_or_none(r, "last_online_status_update"),
            raw=r.data,
        )


@dataclass(frozen=True)
class ProxyAuth:
    login: str
    password: str = field(repr=False)
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True)
class ProxyAccess:
    """Proxy access control: one proxy endpoint (hostname:port) on a connection."""

    id: str
    connection_id: str
    description: str
    listen_service: str
    auth_type: str
    auth: ProxyAuth | None
    acl_inbound_policy: str
    acl_inbound_ips: tuple[str, ...]
    ip: str
    port: int
    hostname: str
    password_updated_at: dt.datetime | None
    expires_at: dt.datetime | None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> ProxyAccess:
        auth = r.object("auth", None)
        return cls(
            id=r.str("id"),
            connection_id=r.str("connection_id"),
            description=r.str("description", ""),
            listen_service=r.str("listen_service"),
            auth_type=r.str("auth_type"),
            auth=ProxyAuth(auth.str("login"), auth.str("password"), raw=auth.data) if auth is not None else None,
            acl_inbound_policy=r.str("acl_inbound_policy", ""),
            acl_inbound_ips=tuple(r.str_list("acl_inbound_ips", [])),
            ip=r.str("ip", ""),
            port=r.int("port"),
            hostname=r.str("hostname", ""),
            password_updated_at=_time_or_none(r, "password_updated_at"),
            expires_at=_time_or_none(r, "expires_at"),
            raw=r.data,
        )


@dataclass(frozen=True)
class OvpnAccess:
    """OpenVPN access API: one OpenVPN profile on a connection."""

    id: str
    connection_id: str
    name: str
    description: str
    status: str
    dns: tuple[str, ...]
    expires_at: dt.datetime | None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> OvpnAccess:
        return cls(
            id=r.str("id"),
            connection_id=r.str("connection_id"),
            name=r.str("name", ""),
            description=r.str("description", ""),
            status=r.str("status", ""),
            dns=tuple(r.str_list("dns", [])),
            expires_at=_time_or_none(r, "expires_at"),
            raw=r.data,
        )


@dataclass(frozen=True)
class OvpnConfig:
    """OpenVPN access API 4: the decoded .ovpn file, its sha1 already checked."""

    config: bytes = field(repr=False)
    sha1: str
    raw: Mapping[str, Any] = _raw()

    @property
    def text(self) -> str:
        return self.config.decode("utf-8", errors="replace")

    @classmethod
    def parse(cls, r: Reader) -> OvpnConfig:
        encoded, checksum = r.str("config_base64"), r.str("config_sha1")
        try:
            config = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise r.error("config_base64 is not valid base64") from None
        if hashlib.sha1(config, usedforsecurity=False).hexdigest() != checksum.strip().lower():
            raise r.error("the OpenVPN config does not match its config_sha1")
        return cls(config=config, sha1=checksum.strip().lower(), raw=r.data)


@dataclass(frozen=True)
class TrafficPoint:
    """Traffic for one day or hour starting at `date`."""

    date: dt.datetime
    in_bytes: int
    out_bytes: int
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> TrafficPoint:
        return cls(date=r.rfc3339("date"), in_bytes=r.int("in_bytes"), out_bytes=r.int("out_bytes"), raw=r.data)


@dataclass(frozen=True)
class DailyTraffic:
    """Connection statistics 1: totals and one point per day."""

    total_in_bytes: int
    total_out_bytes: int
    daily_stats: tuple[TrafficPoint, ...]
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> DailyTraffic:
        return cls(
            total_in_bytes=r.int("total_in_bytes"),
            total_out_bytes=r.int("total_out_bytes"),
            daily_stats=tuple(TrafficPoint.parse(day) for day in r.objects("daily_stats", [])),
            raw=r.data,
        )


@dataclass(frozen=True)
class PortTraffic:
    """Connection statistics 2: one proxy port's totals and hourly points."""

    port: str
    total_in_bytes: int
    total_out_bytes: int
    hourly_stats: tuple[TrafficPoint, ...]
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> PortTraffic:
        # The document writes the port as a string; accept a number too.
        port = r.data.get("port")
        if isinstance(port, bool) or not isinstance(port, str | int):
            raise r.error("port should be a port number")
        return cls(
            port=str(port),
            total_in_bytes=r.int("total_in_bytes"),
            total_out_bytes=r.int("total_out_bytes"),
            hourly_stats=tuple(TrafficPoint.parse(hour) for hour in r.objects("hourly_stats", [])),
            raw=r.data,
        )


@dataclass(frozen=True)
class UptimeEntry:
    """Connection statistics 3: the status ("UP", ...) at `date`."""

    date: dt.datetime
    status: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> UptimeEntry:
        return cls(date=r.rfc3339("date"), status=r.str("status"), raw=r.data)


@dataclass(frozen=True)
class IpHistoryEntry:
    """Connection statistics 4: the external IP the connection had from `date`."""

    date: dt.datetime
    ipv4: str
    ipv6: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> IpHistoryEntry:
        return cls(date=r.rfc3339("date"), ipv4=r.str("ipv4", ""), ipv6=r.str("ipv6", ""), raw=r.data)


@dataclass(frozen=True)
class ActionLink:
    """Action links API: a URL anyone can GET to reboot or change the IP.

    `link` is a secret, and so is `id`, the last part of it: neither is in repr.
    """

    id: str = field(repr=False)
    link: str = field(repr=False)
    action: str
    connection_id: str
    comment: str
    created_at: dt.datetime | None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def parse(cls, r: Reader) -> ActionLink:
        return cls(
            id=r.str("id"),
            link=r.str("link"),
            action=r.str("action"),
            connection_id=r.str("connection_id"),
            comment=r.str("comment", ""),
            created_at=_time_or_none(r, "created_at"),
            raw=r.data,
        )


T = TypeVar("T")


# The client ------------------------------------------------------------------


class Client(BaseClient):
    """`Client(base_url, api_key)`; base_url like https://iproxy.online/api/console/v1.

    Every method checks the documented rules before sending (InvalidRequestError, nothing sent)
    and returns frozen dataclasses. After `new_api_key()` the client uses the new key itself.
    """

    provider = PROVIDER

    def __init__(self, base_url: str, api_key: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self._api_key = api_key

    def _prepare(self, headers: dict[str, str]) -> None:
        headers["Authorization"] = f"Bearer {self._api_key}"

    # Helpers ---------------------------------------------------------------

    def _check(self, violations: list[RuleViolation], operation: str) -> None:
        raise_for(violations, provider=self.provider, operation=operation)

    def _one(self, parse: Callable[[Reader], T], data: Any, operation: str) -> T:
        return parse(Reader(data, provider=self.provider, operation=operation))

    def _many(self, parse: Callable[[Reader], T], data: Any, key: str, operation: str) -> list[T]:
        reader = Reader(data, provider=self.provider, operation=operation)
        return [parse(item) for item in reader.objects(key)]

    def _range(self, start: dt.datetime, end: dt.datetime, operation: str) -> dict[str, str]:
        for name, moment in (("from", start), ("to", end)):
            if not isinstance(moment, dt.datetime) or moment.tzinfo is None:
                self._check([RuleViolation(name, "must be a timezone-aware datetime")], operation)
        params = {"from": format_rfc3339(start), "to": format_rfc3339(end)}
        self._check(rules.check_time_range(params["from"], params["to"]), operation)
        return params

    @staticmethod
    def _conn(connection_id: str, *rest: str) -> str:
        return "/".join(["connections", quote(connection_id, safe=""), *rest])

    @staticmethod
    def _id(value: str) -> str:
        return quote(value, safe="")

    # Userinfo API ------------------------------------------------------------

    def me(self) -> UserInfo:
        """Userinfo API 1. Userinfo: GET /me."""
        return self._one(UserInfo.parse, self._request("GET", "me", operation="me"), "me")

    def update_basic_info(
        self, *, display_name: str | None = None, telegram: str | None = None, proxy_prefix: str | None = None
    ) -> UserBasicInfo:
        """Userinfo API 2. Update basic user info: POST /me/update-basic-info (each 1-256 chars, optional)."""
        operation = "update basic user info"
        given = {"display_name": display_name, "telegram": telegram, "proxy_prefix": proxy_prefix}
        body = {key: value for key, value in given.items() if value is not None}
        self._check(rules.check_user_basic_info(body), operation)
        data = self._request("POST", "me/update-basic-info", operation=operation, json_body=body)
        return self._one(UserBasicInfo.parse, data, operation)

    def new_api_key(self) -> ApiKey:
        """Userinfo API 3. Generate new API Key: POST /me/api-key; the old key stops working, so switch at once."""
        operation = "new api key"
        key = self._one(ApiKey.parse, self._request("POST", "me/api-key", operation=operation), operation)
        self._api_key = key.api_key
        return key

    # Connection control --------------------------------------------------------

    def create_connection(
        self,
        *,
        name: str,
        description: str | None = None,
        prolongation_enabled: bool | None = None,
        country: str | None = None,
        city: str | None = None,
        server_id: str | None = None,
    ) -> CreatedConnection:
        """Connection control 1. Create connection: POST /connections; country + city, or server_id, not both."""
        operation = "create connection"
        given = {
            "name": name,
            "description": description,
            "prolongation_enabled": prolongation_enabled,
            "country": country,
            "city": city,
            "server_id": server_id,
        }
        body = {key: value for key, value in given.items() if value is not None}
        self._check(rules.check_create_connection(body), operation)
        data = self._request("POST", "connections", operation=operation, json_body=body)
        return self._one(CreatedConnection.parse, data, operation)

    def get_connection(self, connection_id: str) -> Connection:
        """Connection control 2. Get connection: GET /connections/{conn_id}."""
        operation = "get connection"
        data = self._request("GET", self._conn(connection_id), operation=operation)
        return self._one(Connection.parse, data, operation)

    def list_connections(self) -> list[Connection]:
        """Connection control 3. Get connection list: GET /connections."""
        operation = "list connections"
        data = self._request("GET", "connections", operation=operation)
        return self._many(Connection.parse, data, "connections", operation)

    def update_connection_basic_info(
        self, connection_id: str, *, name: str | None = None, description: str | None = None
    ) -> ConnectionBasicInfo:
        """Connection control 4. Update connection basic info: POST /connections/{conn_id}/update-basic-info."""
        operation = "update connection basic info"
        body = {key: value for key, value in (("name", name), ("description", description)) if value is not None}
        self._check(rules.check_connection_basic_info(body), operation)
        data = self._request(
            "POST", self._conn(connection_id, "update-basic-info"), operation=operation, json_body=body
        )
        return self._one(ConnectionBasicInfo.parse, data, operation)

    def update_connection_settings(self, connection_id: str, **changes: Any) -> ConnectionSettings:
        """Connection control 5. Update connection settings: POST /connections/{conn_id}/update-settings.

        Pass only the settings to change (`low_battery_reboot_threshold=50`); each is checked
        against the document's validation table (rules.SETTINGS_RULES) before anything is sent.
        """
        operation = "update connection settings"
        body = {key: list(value) if isinstance(value, tuple) else value for key, value in changes.items()}
        self._check(rules.check_update_settings(body), operation)
        data = self._request("POST", self._conn(connection_id, "update-settings"), operation=operation, json_body=body)
        return self._one(ConnectionSettings.parse, data, operation)

    def modify_team_access(self, connection_id: str, *, email: str, permissions: Mapping[str, bool]) -> TeamAccess:
        """Connection control 6. Modify team access: POST /connections/{conn_id}/team-access/modify."""
        operation = "modify team access"
        body = {"email": email, "permissions": dict(permissions)}
        self._check(rules.check_team_access_modify(body), operation)
        path = self._conn(connection_id, "team-access", "modify")
        return self._one(TeamAccess.parse, self._request("POST", path, operation=operation, json_body=body), operation)

    def remove_team_access(self, connection_id: str, *, email: str) -> RemovedTeamMember:
        """Connection control 7. Remove team access: POST /connections/{conn_id}/team-access/remove."""
        operation = "remove team access"
        body = {"email": email}
        self._check(rules.check_team_access_remove(body), operation)
        data = self._request(
            "POST", self._conn(connection_id, "team-access", "remove"), operation=operation, json_body=body
        )
        return self._one(RemovedTeamMember.parse, data, operation)

    def change_plan(
        self,
        connection_id: str,
        *,
        plan_id: str,
        active_plan: ActivePlan | None,
        coupon_code: str | None = None,
    ) -> PlanChange:
        """Connection control 8. Change connection tariff: POST /connections/{conn_id}/change-plan.

        `active_plan` is the connection's current plan as last read (None when it has none).
        """
        operation = "change plan"
        body: dict[str, Any] = {"plan_id": plan_id}
        if active_plan is not None:
            body["active_plan"] = active_plan.to_json()
        if coupon_code is not None:
            body["coupon_code"] = coupon_code
        self._check(rules.check_change_plan(body), operation)
        data = self._request("POST", self._conn(connection_id, "change-plan"), operation=operation, json_body=body)
        return self._one(PlanChange.parse, data, operation)

    def prolongate_plan(
        self,
        connection_id: str,
        *,
        active_plan: ActivePlan,
        days: int,
        plan_days: int | None = None,
        coupon_code: str | None = None,
    ) -> PlanChange:
        """Connection control 13. Prolongate connection tariff: POST /connections/{conn_id}/prolongate-plan.

        `days` must be a multiple of the plan's days; give `plan_days` when known and it is checked here.
        """
        operation = "prolongate plan"
        body: dict[str, Any] = {"active_plan": active_plan.to_json(), "days": days}
        if coupon_code is not None:
            body["coupon_code"] = coupon_code
        self._check(rules.check_prolongate_plan(body, plan_days), operation)
        data = self._request("POST", self._conn(connection_id, "prolongate-plan"), operation=operation, json_body=body)
        return self._one(PlanChange.parse, data, operation)

    def delete_connection(self, connection_id: str, *, reason: str) -> ObjectRef:
        """Connection control 9. Delete connection: DELETE /connections/{conn_id}; 409 with an active plan.

        `reason` is one of rules.DELETE_REASONS or any custom text.
        """
        operation = "delete connection"
        body = {"reason": reason}
        self._check(rules.check_delete_connection(body), operation)
        data = self._request("DELETE", self._conn(connection_id), operation=operation, json_body=body)
        return self._one(ObjectRef.parse, data, operation)

    def recreate_connection(
        self,
        connection_id: str,
        *,
        name: str,
        server_id: str,
        description: str | None = None,
        prolongation_enabled: bool | None = None,
    ) -> ObjectRef:
        """Special api 1. Recreate connection: POST /recreate-connection; the answer holds the new id."""
        operation = "recreate connection"
        given = {
            "connection_id": connection_id,
            "name": name,
            "server_id": server_id,
            "description": description,
            "prolongation_enabled": prolongation_enabled,
        }
        body = {key: value for key, value in given.items() if value is not None}
        self._check(rules.check_recreate_connection(body), operation)
        data = self._request("POST", "recreate-connection", operation=operation, json_body=body)
        return self._one(ObjectRef.parse, data, operation)

    def sms_history(self, connection_id: str) -> list[Sms]:
        """Connection control 10. Get last 100 sms: GET /connections/{conn_id}/sms-history."""
        operation = "sms history"
        data = self._request("GET", self._conn(connection_id, "sms-history"), operation=operation)
        return self._many(Sms.parse, data, "sms_messages", operation)

    def push_command(self, connection_id: str, action: str, params: Mapping[str, Any] | None = None) -> CommandSent:
        """Connection control 11. Command push: POST /connection/{connection_id}/command-push (singular path).

        `action` is one of rules.COMMAND_PUSH_ACTIONS; toggle_proxy takes `params={"enabled": bool}`.
        """
        operation = "command push"
        body: dict[str, Any] = {"action": action}
        if params is not None:
            body[f"{action}_params"] = dict(params)
        self._check(rules.check_command_push(body), operation)
        path = f"connection/{self._id(connection_id)}/command-push"
        return self._one(CommandSent.parse, self._request("POST", path, operation=operation, json_body=body), operation)

    def connection_statuses(self) -> list[ConnectionStatus]:
        """Connection control 12. Get connection's status list: GET /connections-status."""
        operation = "connection status list"
        data = self._request("GET", "connections-status", operation=operation)
        return self._many(ConnectionStatus.parse, data, "connections", operation)

    # Connection API key and PIN code -------------------------------------------

    def new_pin_code(self, connection_id: str) -> PinCode:
        """Connection API key and PIN code 1. Generate new connection PIN code: POST /connections/{conn_id}/pin-code."""
        operation = "new connection pin code"
        data = self._request("POST", self._conn(connection_id, "pin-code"), operation=operation)
        return self._one(PinCode.parse, data, operation)

    def new_connection_api_key(self, connection_id: str) -> ApiKey:
        """Connection API key and PIN code 2. Generate new connection API key: POST /connections/{conn_id}/api-key."""
        operation = "new connection api key"
        data = self._request("POST", self._conn(connection_id, "api-key"), operation=operation)
        return self._one(ApiKey.parse, data, operation)

    # Proxy access control --------------------------------------------------------

    def create_proxy_access(
        self,
        connection_id: str,
        *,
        listen_service: str,
        auth_type: str,
        login: str | None = None,
        password: str | None = None,
        description: str | None = None,
        acl_inbound_policy: str | None = None,
        acl_inbound_ips: list[str] | tuple[str, ...] | None = None,
        expires_at: dt.datetime | None = None,
    ) -> ProxyAccess:
        """Proxy access control 1. Create proxy access: POST /connections/{conn_id}/proxy-access.

        Credentials are generated when login and password are omitted; a noauth access needs
        `acl_inbound_policy` and a non-empty `acl_inbound_ips`.
        """
        operation = "create proxy access"
        body: dict[str, Any] = {"listen_service": listen_service, "auth_type": auth_type}
        body.update(self._proxy_fields(login, password, description, acl_inbound_ips, expires_at, operation))
        if acl_inbound_policy is not None:
            body["acl_inbound_policy"] = acl_inbound_policy
        self._check(rules.check_proxy_access_create(body), operation)
        data = self._request("POST", self._conn(connection_id, "proxy-access"), operation=operation, json_body=body)
        return self._one(ProxyAccess.parse, data, operation)

    def update_proxy_access(
        self,
        connection_id: str,
        proxy_id: str,
        *,
        listen_service: str | None = None,
        auth_type: str | None = None,
        login: str | None = None,
        password: str | None = None,
        description: str | None = None,
        acl_inbound_ips: list[str] | tuple[str, ...] | None = None,
        expires_at: dt.datetime | _Clear | None = None,
    ) -> ProxyAccess:
        """Proxy access control 2. Update proxy access: POST /connections/{conn_id}/proxy-access/{proxy_id}/update.

        None leaves a field as it is; `acl_inbound_ips=[]` switches the ACL off; `expires_at=CLEAR`
        removes the expiry (the document's zero time).
        """
        operation = "update proxy access"
        body: dict[str, Any] = {}
        if listen_service is not None:
            body["listen_service"] = listen_service
        if auth_type is not None:
            body["auth_type"] = auth_type
        body.update(self._proxy_fields(login, password, description, acl_inbound_ips, expires_at, operation))
        self._check(rules.check_proxy_access_update(body), operation)
        path = self._conn(connection_id, "proxy-access", self._id(proxy_id), "update")
        data = self._request("POST", path, operation=operation, json_body=body)
        return self._one(ProxyAccess.parse, data, operation)

    def _proxy_fields(
        self,
        login: str | None,
        password: str | None,
        description: str | None,
        acl_inbound_ips: list[str] | tuple[str, ...] | None,
        expires_at: dt.datetime | _Clear | None,
        operation: str,
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if (login is None) != (password is None):
            self._check([RuleViolation("auth", "give both a login and a password, or neither")], operation)
        if login is not None:
            fields["auth"] = {"login": login, "password": password}
        if description is not None:
            fields["description"] = description
        if acl_inbound_ips is not None:
            fields["acl_inbound_ips"] = list(acl_inbound_ips)
        if expires_at is CLEAR:
            fields["expires_at"] = rules.ZERO_TIME
        elif expires_at is not None:
            fields["expires_at"] = self._time(expires_at, "expires_at", operation)
        return fields

    def _time(self, moment: Any, name: str, operation: str) -> str:
        if not isinstance(moment, dt.datetime) or moment.tzinfo is None:
            self._check([RuleViolation(name, "must be a timezone-aware datetime")], operation)
        return format_rfc3339(moment)

    def list_proxy_accesses(self, connection_id: str) -> list[ProxyAccess]:
        """Proxy access control 3. List proxy accesses by connection: GET /connections/{conn_id}/proxy-access."""
        operation = "list proxy accesses"
        data = self._request("GET", self._conn(connection_id, "proxy-access"), operation=operation)
        return self._many(ProxyAccess.parse, data, "proxy_accesses", operation)

    def list_all_proxy_accesses(self) -> list[ProxyAccess]:
        """Proxy access control 4. List proxy accesses by user: GET /proxy-access."""
        operation = "list proxy accesses by user"
        data = self._request("GET", "proxy-access", operation=operation)
        return self._many(ProxyAccess.parse, data, "proxy_accesses", operation)

    def delete_proxy_access(self, connection_id: str, proxy_id: str) -> ObjectRef:
        """Proxy access control 5. Delete proxy access: DELETE /connections/{conn_id}/proxy-access/{proxy_id}."""
        operation = "delete proxy access"
        path = self._conn(connection_id, "proxy-access", self._id(proxy_id))
        return self._one(ObjectRef.parse, self._request("DELETE", path, operation=operation), operation)

    # OpenVPN access API ----------------------------------------------------------

    def create_ovpn_access(self, connection_id: str, *, name: str, description: str | None = None) -> OvpnAccess:
        """OpenVPN access API 1. Create OpenVPN access: POST /connections/{conn_id}/ovpn-access."""
        operation = "create ovpn access"
        body = {"name": name} | ({"description": description} if description is not None else {})
        self._check(rules.check_ovpn_access_create(body), operation)
        data = self._request("POST", self._conn(connection_id, "ovpn-access"), operation=operation, json_body=body)
        return self._one(OvpnAccess.parse, data, operation)

    def list_ovpn_accesses(self, connection_id: str) -> list[OvpnAccess]:
        """OpenVPN access API 2. List VPN accesses: GET /connections/{conn_id}/ovpn-access."""
        operation = "list ovpn accesses"
        data = self._request("GET", self._conn(connection_id, "ovpn-access"), operation=operation)
        return self._many(OvpnAccess.parse, data, "ovpn_accesses", operation)

    def list_all_ovpn_accesses(self) -> list[OvpnAccess]:
        """OpenVPN access API 3. List VPN accesses for user: GET /ovpn-access."""
        operation = "list ovpn accesses by user"
        data = self._request("GET", "ovpn-access", operation=operation)
        return self._many(OvpnAccess.parse, data, "ovpn_accesses", operation)

    def ovpn_config(self, connection_id: str, ovpn_id: str) -> OvpnConfig:
        """OpenVPN access API 4. Get VPN config: GET .../ovpn-access/{ovpn_id}/config, decoded and sha1-checked."""
        operation = "ovpn config"
        path = self._conn(connection_id, "ovpn-access", self._id(ovpn_id), "config")
        return self._one(OvpnConfig.parse, self._request("GET", path, operation=operation), operation)

    def update_ovpn_access(
        self,
        connection_id: str,
        ovpn_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        expires_at: dt.datetime | None = None,
    ) -> OvpnAccess:
        """OpenVPN access API 5. Update VPN access: POST .../ovpn-access/{ovpn_id}/update (only the fields given)."""
        operation = "update ovpn access"
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if description is not None:
            body["description"] = description
        if expires_at is not None:
            body["expires_at"] = self._time(expires_at, "expires_at", operation)
        self._check(rules.check_ovpn_access_update(body), operation)
        path = self._conn(connection_id, "ovpn-access", self._id(ovpn_id), "update")
        return self._one(OvpnAccess.parse, self._request("POST", path, operation=operation, json_body=body), operation)

    def delete_ovpn_access(self, connection_id: str, ovpn_id: str) -> ObjectRef:
        """OpenVPN access API 6. Delete VPN access: DELETE /connections/{conn_id}/ovpn-access/{ovpn_id}."""
        operation = "delete ovpn access"
        path = self._conn(connection_id, "ovpn-access", self._id(ovpn_id))
        return self._one(ObjectRef.parse, self._request("DELETE", path, operation=operation), operation)

    # Connection statistics API -----------------------------------------------------

    def traffic_by_day(
        self, connection_id: str, *, start: dt.datetime, end: dt.datetime, timezone: str | None = None
    ) -> DailyTraffic:
        """Connection statistics 1. Daily traffic details: GET .../traffic/by-day?from=&to=&timezone=.

        `start`/`end` are the document's `from`/`to`: aware datetimes, sent as RFC 3339.
        """
        operation = "traffic by day"
        params = self._range(start, end, operation)
        if timezone is not None:
            self._check(rules.check_timezone(timezone), operation)
            params["timezone"] = timezone
        data = self._request("GET", self._conn(connection_id, "traffic", "by-day"), operation=operation, params=params)
        return self._one(DailyTraffic.parse, data, operation)

    def traffic_by_hour_and_port(
        self, connection_id: str, *, start: dt.datetime, end: dt.datetime
    ) -> list[PortTraffic]:
        """Connection statistics 2. Hourly traffic details by port: GET .../traffic/by-hour-port?from=&to=."""
        operation = "traffic by hour and port"
        params = self._range(start, end, operation)
        path = self._conn(connection_id, "traffic", "by-hour-port")
        data = self._request("GET", path, operation=operation, params=params)
        return self._many(PortTraffic.parse, data, "port_stats", operation)

    def uptime(self, connection_id: str, *, start: dt.datetime, end: dt.datetime) -> list[UptimeEntry]:
        """Connection statistics 3. Uptime statistics: GET /connections/{conn_id}/uptime?from=&to=."""
        operation = "uptime"
        params = self._range(start, end, operation)
        data = self._request("GET", self._conn(connection_id, "uptime"), operation=operation, params=params)
        return self._many(UptimeEntry.parse, data, "uptime", operation)

    def ip_history(self, connection_id: str, *, start: dt.datetime, end: dt.datetime) -> list[IpHistoryEntry]:
        """Connection statistics 4. IP history: GET /connections/{conn_id}/ip-history?from=&to=."""
        operation = "ip history"
        params = self._range(start, end, operation)
        data = self._request("GET", self._conn(connection_id, "ip-history"), operation=operation, params=params)
        return self._many(IpHistoryEntry.parse, data, "ip_history", operation)

    # Action links API ------------------------------------------------------------

    def create_action_link(self, connection_id: str, *, action: str, comment: str | None = None) -> ObjectRef:
        """Action links API 1. Create Action Link: POST /connections/{conn_id}/actionlinks (reboot or changeip)."""
        operation = "create action link"
        body = {"action": action} | ({"comment": comment} if comment is not None else {})
        self._check(rules.check_action_link(body), operation)
        data = self._request("POST", self._conn(connection_id, "actionlinks"), operation=operation, json_body=body)
        return self._one(ObjectRef.parse, data, operation)

    def list_action_links(self, connection_id: str, *, action: str | None = None) -> list[ActionLink]:
        """Action links API 2. Get List of Action Links: GET /connections/{conn_id}/actionlinks[?action=]."""
        operation = "list action links"
        params = self._link_filter(action, operation)
        path = self._conn(connection_id, "actionlinks")
        data = self._request("GET", path, operation=operation, params=params)
        return self._many(ActionLink.parse, data, "action_links", operation)

    def list_all_action_links(self, *, action: str | None = None) -> list[ActionLink]:
        """Action links API 3. Get List of Action Links for user: GET /actionlinks[?action=]."""
        operation = "list action links by user"
        data = self._request("GET", "actionlinks", operation=operation, params=self._link_filter(action, operation))
        return self._many(ActionLink.parse, data, "action_links", operation)

    def _link_filter(self, action: str | None, operation: str) -> dict[str, str] | None:
        # The document names an `action` parameter (reboot or changeip) on both lists: a filter.
        if action is None:
            return None
        self._check(rules.check_action_link_filter(action), operation)
        return {"action": action}

    def delete_action_link(self, connection_id: str, link_id: str) -> ObjectRef:
        """Action links API 4. Delete Action Link: DELETE /connections/{conn_id}/actionlinks/{link_id}."""
        operation = "delete action link"
        path = self._conn(connection_id, "actionlinks", self._id(link_id))
        return self._one(ObjectRef.parse, self._request("DELETE", path, operation=operation), operation)

    def execute_action_link(self, link: ActionLink | str) -> CommandSent:
        """Action links API 5. Execute Action Link: GET the link URL, without authentication.

        The URL is a secret: it is never logged and never part of an error (nor of its cause chain).
        The GET reboots or changes the IP, so it is sent once: a lost answer is UnknownOutcomeError.
        """
        operation = "execute action link"
        url = link.link if isinstance(link, ActionLink) else link
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            self._check([RuleViolation("link", "must be the action link's full URL")], operation)
        try:
            data = self._request("GET", url, operation=operation, authenticated=False, safe=False)
        except errors.ProviderError as exc:
            # The transport exception underneath names the URL; drop it so no traceback shows it.
            exc.__context__ = None
            raise exc from None
        return self._one(CommandSent.parse, data, operation)
