"""Every validation rule of the iProxy Console API, checked on the JSON body as it goes over the wire."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from providers.http.parsing import parse_rfc3339
from providers.http.rules import INTEGER_MAX, RuleViolation, at_most, int_range, is_int, is_ip

# The document's "zero time": sending it as a proxy access's expires_at removes the expiry.
ZERO_TIME = "0001-01-01T00:00:00Z"

TCP_FINGERPRINTS = ("none", "WinXP", "Win78", "Win10", "WinNT", "Nintendo", "FreeBSD", "FreeBSD9", "MacOS", "iOS")
LISTEN_SERVICES = ("http", "socks5")
AUTH_TYPES = ("userpass", "noauth")
# The only policy the document shows; widen here when the live API shows another.
ACL_INBOUND_POLICIES = ("deny_except",)
ACTION_LINK_ACTIONS = ("reboot", "changeip")
COMMAND_PUSH_ACTIONS = (
    "refresh_fingerprint",
    "refresh",
    "reboot",
    "changeip",
    "fix_lte",
    "toggle_proxy",
    "find_my_device",
    "debug_report",
    "upgrade_app",
    "speed_test",
)
# Actions that take `<action>_params`, and the params each takes (name -> Python type).
COMMAND_PUSH_PARAMS: dict[str, dict[str, type]] = {"toggle_proxy": {"enabled": bool}}
DELETE_REASONS = ("does_not_need", "short_period", "switch_server", "technical_issues", "mistake")
TEAM_PERMISSIONS = (
    "airplane_mode_time_edit",
    "authorization_pin_create",
    "battery_level_threshold",
    "connection_change_tariff",
    "connection_payment",
    "connection_remove",
    "description_edit",
    "dns_setting",
    "enable_unique_ip",
    "find_device",
    "fix_lte",
    "ip_history_view",
    "logs_download",
    "macros_url",
    "name_edit",
    "open_vpn_create",
    "open_vpn_view",
    "open_vpn_edit",
    "open_vpn_remove",
    "pof_setting",
    "no_network_reboot",
    "proxy_create",
    "proxy_edit",
    "proxy_remove",
    "proxy_view",
    "reboot_device",
    "repeating_ip_view",
    "rotation_setting",
    "scheduled_reboot",
    "sms_control",
    "tariff_statistic_view",
    "no_network_airplane_toggle_time_edit",
    "uptime_view",
    "url_change_ip_create",
    "url_change_ip_remove",
    "team_members_edit",
    "api_key_create",
    "action_link_create",
    "action_link_view",
    "action_link_remove",
    "basic_info_edit",
    "settings_edit",
    "connection_control",
)
# The document gives 1-256 characters for the user's basic info; we hold connection names to the same.
TEXT_MAX = 256
# The document bounds neither prolongation days nor some intervals. Our decisions: ten years of days (dates stay
# well inside what Python and the database hold), and a 32-bit integer for every unbounded count.
MAX_PROLONGATION_DAYS = 3650
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Rule = Callable[[str, object], list[RuleViolation]]


# Small building blocks -------------------------------------------------------


def boolean(field: str, value: object) -> list[RuleViolation]:
    return [] if isinstance(value, bool) else [RuleViolation(field, "must be true or false")]


def text(field: str, value: object, *, low: int = 1, high: int = TEXT_MAX) -> list[RuleViolation]:
    if value is None:
        return [RuleViolation(field, "is required")]
    if not isinstance(value, str):
        return [RuleViolation(field, "must be text")]
    if not low <= len(value) <= high:
        return [RuleViolation(field, f"must be {low} to {high} characters long")]
    return []


def one_of(field: str, value: object, choices: tuple[str, ...]) -> list[RuleViolation]:
    if value not in choices:
        return [RuleViolation(field, f"must be one of {', '.join(choices)}")]
    return []


def number_range(field: str, value: object, low: float, high: float) -> list[RuleViolation]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return [RuleViolation(field, "must be a number")]
    if not low <= value <= high:
        return [RuleViolation(field, f"must be between {low:g} and {high:g}")]
    return []


def ip_list(field: str, value: object, *, non_empty: bool = False) -> list[RuleViolation]:
    if not isinstance(value, list):
        return [RuleViolation(field, "must be a list of IP addresses")]
    if non_empty and not value:
        return [RuleViolation(field, "must list at least one IP address")]
    bad = [item for item in value if not is_ip(item)]
    if bad:
        return [RuleViolation(field, f"{bad[0]!r} is not a valid IP address")]
    return []


def int_list(field: str, value: object) -> list[RuleViolation]:
    if not isinstance(value, list) or not all(is_int(item) and 0 <= item <= INTEGER_MAX for item in value):
        return [RuleViolation(field, f"must be a list of whole numbers from 0 to {INTEGER_MAX:,}")]
    return []


def rfc3339(field: str, value: object) -> list[RuleViolation]:
    if isinstance(value, str):
        try:
            parse_rfc3339(value)
            return []
        except ValueError:
            pass
    return [RuleViolation(field, "must be an RFC 3339 time with an offset, e.g. 2026-01-01T01:01:01Z")]


def url_or_empty(field: str, value: object) -> list[RuleViolation]:
    if value == "":
        return []
    if isinstance(value, str) and not any(ch.isspace() for ch in value):
        parts = urlsplit(value)
        if parts.scheme in ("http", "https") and parts.hostname:
            return []
    return [RuleViolation(field, "must be a valid http(s) URL, or empty to disable")]


def fingerprint(field: str, value: object) -> list[RuleViolation]:
    if value == "":
        return []
    return one_of(field, value, TCP_FINGERPRINTS)


# Cron: minute, hour, day of month, month, day of week; names as cron accepts them.
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_CRON_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate(_MONTHS)}),
    ("day of week", 0, 7, {d: i for i, d in enumerate(_WEEKDAYS)}),
)


def _cron_value(token: str, low: int, high: int, names: dict[str, int]) -> int | None:
    if token.lower() in names:
        return names[token.lower()]
    if token.isdigit() and low <= int(token) <= high:
        return int(token)
    return None


def _cron_field_ok(spec: str, low: int, high: int, names: dict[str, int]) -> bool:
    for item in spec.split(","):
        base, slash, step = item.partition("/")
        if slash and not (step.isdigit() and int(step) > 0):
            return False
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        first = _cron_value(start, low, high, names)
        if first is None:
            return False
        if dash:
            last = _cron_value(end, low, high, names)
            if last is None or last < first:
                return False
    return True


def cron_or_empty(field: str, value: object) -> list[RuleViolation]:
    if value == "":
        return []
    if isinstance(value, str):
        specs = value.split()
        if len(specs) == len(_CRON_FIELDS) and all(
            _cron_field_ok(spec, low, high, names)
            for spec, (_, low, high, names) in zip(specs, _CRON_FIELDS, strict=True)
        ):
            return []
    return [RuleViolation(field, "must be a 5-field cron expression (e.g. '30 */3 * * *'), or empty to disable")]


def _ranged(low: int, high: int) -> Rule:
    return lambda field, value: int_range(field, value, low, high)


def _non_negative(field: str, value: object) -> list[RuleViolation]:
    # The document gives no upper bound for these intervals; a negative interval means nothing.
    if not is_int(value) or value < 0:
        return [RuleViolation(field, "must be a whole number, 0 or more")]
    return at_most(field, value, INTEGER_MAX)


# Update connection settings: the document's validation table, in one place.
SETTINGS_RULES: dict[str, Rule] = {
    "prolongation_enabled": boolean,
    "dns": ip_list,
    "telegram_change_ip_notification_enabled": boolean,
    "telegram_status_notification_enabled": boolean,
    "reboot_cron_string": cron_or_empty,
    "low_battery_reboot_threshold": lambda field, value: number_range(field, value, 0, 95),
    "no_network_reboot_timeout_seconds": _ranged(0, 3600),
    "ip_change_airplane_mode_time_seconds": _ranged(0, 3600),
    "no_network_airplane_toggle_timeout_seconds": _ranged(0, 3600),
    "tariff_notify_hours_before_expired": int_list,
    "no_wifi_inet_disable_wifi_timeout_seconds": _ranged(0, 3600),
    "no_wifi_connection_reboot_timeout_seconds": _ranged(0, 40320),
    "tcp_fingerprint": fingerprint,
    "ip_change_wait_unique": boolean,
    "ip_change_wait_unique_attempts": _ranged(0, 10),
    "ip_change_wait_unique_lookbehind_minutes": _ranged(0, 64800),
    "ip_change_enabled": boolean,
    "ip_change_interval_minutes": _ranged(0, 1439),
    "macros_url": url_or_empty,
    "app_restart_interval_minutes": _non_negative,
    "connection_refresh_interval_minutes": _non_negative,
}


def _unknown(body: Mapping[str, object], allowed: tuple[str, ...] | Mapping[str, object]) -> list[RuleViolation]:
    return [RuleViolation(key, "is not a field of this request") for key in body if key not in allowed]


def _is_object(body: object) -> list[RuleViolation]:
    return [] if isinstance(body, Mapping) else [RuleViolation("", "the request body must be a JSON object")]


def _apply(body: Mapping[str, object], rules: Mapping[str, Rule]) -> list[RuleViolation]:
    violations: list[RuleViolation] = []
    for key, rule in rules.items():
        if key in body:
            violations += rule(key, body[key])
    return violations


# Requests ------------------------------------------------------------------


def check_update_settings(body: Mapping[str, object]) -> list[RuleViolation]:
    """Update connection settings: only the fields being changed, each within the documented table."""
    if problems := _is_object(body):
        return problems
    if not body:
        return [RuleViolation("", "send at least one setting to change")]
    return _unknown(body, SETTINGS_RULES) + _apply(body, SETTINGS_RULES)


def check_user_basic_info(body: Mapping[str, object]) -> list[RuleViolation]:
    """Update basic user info: every field optional, 1 to 256 characters when given."""
    if problems := _is_object(body):
        return problems
    fields = ("display_name", "telegram", "proxy_prefix")
    if not any(key in body for key in fields):
        return [RuleViolation("", "send at least one of display_name, telegram, proxy_prefix")]
    return _unknown(body, fields) + [v for key in fields if key in body for v in text(key, body[key])]


def check_connection_basic_info(body: Mapping[str, object]) -> list[RuleViolation]:
    """Update connection basic info: a name of 1-256 characters and a description of up to 256."""
    if problems := _is_object(body):
        return problems
    if "name" not in body and "description" not in body:
        return [RuleViolation("", "send a name, a description or both")]
    violations = _unknown(body, ("name", "description"))
    if "name" in body:
        violations += text("name", body["name"])
    if "description" in body:
        violations += text("description", body["description"], low=0)
    return violations


def _location(body: Mapping[str, object]) -> list[RuleViolation]:
    has_place = "country" in body or "city" in body
    if "server_id" in body and has_place:
        return [RuleViolation("server_id", "give either country and city, or server_id, never both")]
    if "server_id" in body:
        return text("server_id", body["server_id"])
    if not ("country" in body and "city" in body):
        return [RuleViolation("country", "give country and city (or server_id for a VIP server)")]
    violations = []
    country = body["country"]
    if not (isinstance(country, str) and len(country) == 2 and country.isalpha()):
        violations.append(RuleViolation("country", "must be a 2-letter country code, e.g. us"))
    return violations + text("city", body["city"])


def check_create_connection(body: Mapping[str, object]) -> list[RuleViolation]:
    """Create connection: a name, and country + city or server_id (mutually exclusive)."""
    if problems := _is_object(body):
        return problems
    allowed = ("name", "description", "prolongation_enabled", "country", "city", "server_id")
    violations = _unknown(body, allowed)
    violations += text("name", body.get("name"))
    if "description" in body:
        violations += text("description", body["description"], low=0)
    if "prolongation_enabled" in body:
        violations += boolean("prolongation_enabled", body["prolongation_enabled"])
    return violations + _location(body)


def check_recreate_connection(body: Mapping[str, object]) -> list[RuleViolation]:
    """Recreate connection: the old connection's id, a new name and a server id."""
    if problems := _is_object(body):
        return problems
    allowed = ("connection_id", "name", "server_id", "description", "prolongation_enabled")
    violations = _unknown(body, allowed)
    violations += text("connection_id", body.get("connection_id"))
    violations += text("name", body.get("name"))
    violations += text("server_id", body.get("server_id"))
    if "description" in body:
        violations += text("description", body["description"], low=0)
    if "prolongation_enabled" in body:
        violations += boolean("prolongation_enabled", body["prolongation_enabled"])
    return violations


def check_delete_connection(body: Mapping[str, object]) -> list[RuleViolation]:
    """Delete connection: a reason, one of DELETE_REASONS or any custom text."""
    if problems := _is_object(body):
        return problems
    return _unknown(body, ("reason",)) + text("reason", body.get("reason"))


def check_team_access_modify(body: Mapping[str, object]) -> list[RuleViolation]:
    """Modify team access: a member's email and a map of documented permission names to booleans."""
    if problems := _is_object(body):
        return problems
    violations = _unknown(body, ("email", "permissions")) + _email(body.get("email"))
    permissions = body.get("permissions")
    if not isinstance(permissions, Mapping) or not permissions:
        return [*violations, RuleViolation("permissions", "must map at least one permission name to true or false")]
    for name, granted in permissions.items():
        if name not in TEAM_PERMISSIONS:
            violations.append(RuleViolation("permissions", f"{name!r} is not a known permission"))
        elif not isinstance(granted, bool):
            violations.append(RuleViolation("permissions", f"{name} must be true or false"))
    return violations


def check_team_access_remove(body: Mapping[str, object]) -> list[RuleViolation]:
    """Remove team access: the member's email."""
    if problems := _is_object(body):
        return problems
    return _unknown(body, ("email",)) + _email(body.get("email"))


def _email(value: object) -> list[RuleViolation]:
    if isinstance(value, str) and len(value) <= TEXT_MAX and EMAIL_RE.match(value):
        return []
    return [RuleViolation("email", "must be an email address")]


def _active_plan(value: object) -> list[RuleViolation]:
    if not isinstance(value, Mapping):
        return [RuleViolation("active_plan", "must be the connection's current plan (id, started_at, expires_at)")]
    violations = text("active_plan.id", value.get("id"))
    for key in ("started_at", "expires_at"):
        violations += rfc3339(f"active_plan.{key}", value.get(key))
    return violations


def _coupon(body: Mapping[str, object]) -> list[RuleViolation]:
    return text("coupon_code", body["coupon_code"]) if "coupon_code" in body else []


def check_change_plan(body: Mapping[str, object]) -> list[RuleViolation]:
    """Change connection tariff: the new plan id, the current active plan when there is one, a coupon."""
    if problems := _is_object(body):
        return problems
    violations = _unknown(body, ("active_plan", "plan_id", "coupon_code"))
    violations += text("plan_id", body.get("plan_id"))
    if "active_plan" in body:
        violations += _active_plan(body["active_plan"])
    return violations + _coupon(body)


def check_prolongation_days(days: object, plan_days: int | None = None) -> list[RuleViolation]:
    """`days` is a positive multiple of the plan's days (30, 60, 90 for a 30-day plan)."""
    if not is_int(days) or days <= 0:
        return [RuleViolation("days", "must be a whole number of days, more than 0")]
    if days > MAX_PROLONGATION_DAYS:
        return at_most("days", days, MAX_PROLONGATION_DAYS, "days")
    if plan_days and days % plan_days:
        return [RuleViolation("days", f"must be a multiple of the plan's {plan_days} days")]
    return []


def check_prolongate_plan(body: Mapping[str, object], plan_days: int | None = None) -> list[RuleViolation]:
    """Prolongate connection tariff: the current active plan, a number of days, an optional coupon."""
    if problems := _is_object(body):
        return problems
    violations = _unknown(body, ("active_plan", "days", "coupon_code"))
    violations += _active_plan(body.get("active_plan"))
    violations += check_prolongation_days(body.get("days"), plan_days)
    return violations + _coupon(body)


def check_command_push(body: Mapping[str, object]) -> list[RuleViolation]:
    """Command push: one documented action and, for actions that take them, `<action>_params`."""
    if problems := _is_object(body):
        return problems
    action = body.get("action")
    violations = one_of("action", action, COMMAND_PUSH_ACTIONS)
    if violations:
        return violations
    params_key = f"{action}_params"
    violations = _unknown(body, ("action", params_key))
    expected = COMMAND_PUSH_PARAMS.get(str(action))
    if expected is None:
        # The document's example sends `"<command_name>_params": {}` with every command: empty is fine.
        if params_key in body and body[params_key] != {}:
            violations.append(RuleViolation(params_key, f"{action} takes no params"))
        return violations
    params = body.get(params_key)
    if not isinstance(params, Mapping):
        return [*violations, RuleViolation(params_key, f"is required for {action}")]
    violations += _unknown(params, expected)
    for name, kind in expected.items():
        if kind is bool:
            violations += boolean(f"{params_key}.{name}", params.get(name))
    return violations


def _proxy_common(body: Mapping[str, object]) -> list[RuleViolation]:
    violations = []
    if "listen_service" in body:
        violations += one_of("listen_service", body["listen_service"], LISTEN_SERVICES)
    if "auth_type" in body:
        violations += one_of("auth_type", body["auth_type"], AUTH_TYPES)
    if "auth" in body:
        auth = body["auth"]
        if not isinstance(auth, Mapping):
            violations.append(RuleViolation("auth", "must hold a login and a password"))
        else:
            violations += _unknown(auth, ("login", "password"))
            violations += text("auth.login", auth.get("login"))
            violations += text("auth.password", auth.get("password"))
    if "description" in body:
        violations += text("description", body["description"], low=0)
    if "expires_at" in body:
        violations += rfc3339("expires_at", body["expires_at"])
    return violations


def check_proxy_access_create(body: Mapping[str, object]) -> list[RuleViolation]:
    """Create proxy access: service and auth type; a noauth access needs an inbound ACL of at least one IP."""
    if problems := _is_object(body):
        return problems
    allowed = (
        "listen_service",
        "auth_type",
        "auth",
        "description",
        "acl_inbound_policy",
        "acl_inbound_ips",
        "expires_at",
    )
    violations = _unknown(body, allowed)
    for key in ("listen_service", "auth_type"):
        if key not in body:
            violations.append(RuleViolation(key, "is required"))
    violations += _proxy_common(body)
    if "acl_inbound_policy" in body:
        violations += one_of("acl_inbound_policy", body["acl_inbound_policy"], ACL_INBOUND_POLICIES)
        violations += ip_list("acl_inbound_ips", body.get("acl_inbound_ips"), non_empty=True)
    elif "acl_inbound_ips" in body:
        violations += ip_list("acl_inbound_ips", body["acl_inbound_ips"], non_empty=True)
    if body.get("auth_type") == "noauth" and "acl_inbound_policy" not in body:
        violations.append(RuleViolation("acl_inbound_policy", "is required when auth_type is noauth"))
    if body.get("auth_type") == "noauth" and "auth" in body:
        violations.append(RuleViolation("auth", "a noauth access takes no login and password"))
    return violations


def check_proxy_access_update(body: Mapping[str, object]) -> list[RuleViolation]:
    """Update proxy access: any documented field; `acl_inbound_ips: []` and the zero expiry switch those off."""
    if problems := _is_object(body):
        return problems
    if not body:
        return [RuleViolation("", "send at least one field to change")]
    allowed = ("listen_service", "auth_type", "auth", "description", "acl_inbound_ips", "expires_at")
    violations = _unknown(body, allowed) + _proxy_common(body)
    if "acl_inbound_ips" in body:
        violations += ip_list("acl_inbound_ips", body["acl_inbound_ips"])
    if body.get("auth_type") == "noauth" and body.get("acl_inbound_ips") == []:
        violations.append(RuleViolation("acl_inbound_ips", "a noauth access needs at least one allowed IP"))
    if body.get("auth_type") == "noauth" and "auth" in body:
        violations.append(RuleViolation("auth", "a noauth access takes no login and password"))
    return violations


def check_proxy_access_state(auth_type: object, policy: object, ips: object) -> list[RuleViolation]:
    """A proxy access as it would stand after a change: a noauth access is never open to everyone."""
    if auth_type == "noauth" and not (policy and ips):
        return [RuleViolation("acl_inbound_ips", "a noauth access needs an inbound ACL with at least one IP")]
    return []


def check_ovpn_access_create(body: Mapping[str, object]) -> list[RuleViolation]:
    """Create OpenVPN access: a name and an optional description."""
    if problems := _is_object(body):
        return problems
    violations = _unknown(body, ("name", "description")) + text("name", body.get("name"))
    if "description" in body:
        violations += text("description", body["description"], low=0)
    return violations


def check_ovpn_access_update(body: Mapping[str, object]) -> list[RuleViolation]:
    """Update OpenVPN access: any of name, description, expires_at."""
    if problems := _is_object(body):
        return problems
    if not body:
        return [RuleViolation("", "send at least one field to change")]
    violations = _unknown(body, ("name", "description", "expires_at"))
    if "name" in body:
        violations += text("name", body["name"])
    if "description" in body:
        violations += text("description", body["description"], low=0)
    if "expires_at" in body:
        violations += rfc3339("expires_at", body["expires_at"])
    return violations


def check_action_link(body: Mapping[str, object]) -> list[RuleViolation]:
    """Create action link: action reboot or changeip, an optional comment."""
    if problems := _is_object(body):
        return problems
    violations = _unknown(body, ("action", "comment")) + one_of("action", body.get("action"), ACTION_LINK_ACTIONS)
    if "comment" in body:
        violations += text("comment", body["comment"], low=0)
    return violations


def check_action_link_filter(action: object) -> list[RuleViolation]:
    """List action links: the optional `action` parameter is reboot or changeip."""
    return one_of("action", action, ACTION_LINK_ACTIONS)


def check_time_range(start: object, end: object) -> list[RuleViolation]:
    """Statistics: `from` and `to` are RFC 3339 times, `from` not after `to`."""
    violations = rfc3339("from", start) + rfc3339("to", end)
    if not violations and parse_rfc3339(str(start)) > parse_rfc3339(str(end)):
        violations.append(RuleViolation("from", "must not be after to"))
    return violations


def check_timezone(value: object) -> list[RuleViolation]:
    """Daily traffic: an IANA time zone name (the API would silently use UTC for a bad one)."""
    if isinstance(value, str) and value:
        try:
            zoneinfo.ZoneInfo(value)
            return []
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return [RuleViolation("timezone", "must be a time zone name such as Europe/Lisbon")]
