"""Unknown Proxies' documented validation rules and expiry arithmetic, shared by the client, forms and sandbox."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from ops.units import GB
from providers.http.rules import BIGINT_MAX, RuleViolation, is_int, is_ipv4

MIN_DATA_LIMIT = GB
# The documents give no upper bound; the mirror keeps the limit in a bigint, so the largest whole-GB value it holds.
MAX_DATA_LIMIT = BIGINT_MAX // GB * GB
MAX_DURATION_HOURS = 87_600
RESI_USERNAME_LENGTH = 8
ISP_CREDENTIAL_MIN_LENGTH = 4
ISP_CREDENTIAL_MAX_LENGTH = 12
MAX_AUTHENTICATED_IPS = 4
# The documented default when IP auth would otherwise have no address.
DEFAULT_AUTHENTICATED_IPS = ("1.1.1.1",)
AUTH_TYPES = ("user", "ip")
PROXY_TYPES = ("http", "socks")
# Not documented; our decision so a typo cannot order thousands of proxies.
MAX_ISP_QUANTITY = 1000

STATUS_ACTIVE = "active"
STATUS_PROCESSING = "processing"
# The documents only say an expired token "becomes inactive"; we call that status "expired".
STATUS_EXPIRED = "expired"

RESI_MODIFIABLE_FIELDS = ("allowedPools", "dataLimit", "durationHours")
ISP_MODIFIABLE_FIELDS = ("authType", "authenticatedIps", "proxyType", "username", "password")

_ALNUM = re.compile(r"[A-Za-z0-9]+")


def _alnum(value: object) -> bool:
    # str.isalnum() accepts any Unicode letter; the provider means ASCII letters and digits.
    return isinstance(value, str) and _ALNUM.fullmatch(value) is not None


# Single fields ---------------------------------------------------------------


def token(value: object, field: str = "token") -> list[RuleViolation]:
    """A token identifier: a non-empty string."""
    if not isinstance(value, str) or not value.strip():
        return [RuleViolation(field, "is required")]
    return []


def data_limit(value: object, *, current: int | None = None, field: str = "dataLimit") -> list[RuleViolation]:
    """Residential dataLimit: whole gigabytes, 1 GB to MAX_DATA_LIMIT, and never below `current` when that is known."""
    if not is_int(value):
        return [RuleViolation(field, "must be a whole number of bytes")]
    if value < MIN_DATA_LIMIT:
        return [RuleViolation(field, f"must be at least {MIN_DATA_LIMIT:,} bytes (1 GB)")]
    if value > MAX_DATA_LIMIT:
        return [RuleViolation(field, f"must be at most {MAX_DATA_LIMIT:,} bytes ({MAX_DATA_LIMIT // GB:,} GB)")]
    if value % GB:
        return [RuleViolation(field, f"must be a whole number of gigabytes (a multiple of {GB:,} bytes)")]
    if current is not None and value < current:
        return [RuleViolation(field, f"cannot be lowered below the current limit of {current:,} bytes")]
    return []


def duration_hours(value: object, field: str = "durationHours") -> list[RuleViolation]:
    """durationHours: a whole number from 0 (no time expiry) to 87600 (10 years)."""
    if not is_int(value):
        return [RuleViolation(field, "must be a whole number of hours")]
    if not 0 <= value <= MAX_DURATION_HOURS:
        return [RuleViolation(field, f"must be between 0 and {MAX_DURATION_HOURS} hours (10 years)")]
    return []


def resi_username(value: object, field: str = "username") -> list[RuleViolation]:
    """A residential username: exactly 8 letters or digits."""
    if not _alnum(value) or len(value) != RESI_USERNAME_LENGTH:
        return [RuleViolation(field, f"must be exactly {RESI_USERNAME_LENGTH} letters or digits")]
    return []


def allowed_pools(
    value: object, known_pools: Collection[str] | None, field: str = "allowedPools"
) -> list[RuleViolation]:
    """allowedPools: a list of known pool ids; empty means every pool. `known_pools=None` checks the shape only."""
    if not isinstance(value, list) or not all(isinstance(pool, str) and pool for pool in value):
        return [RuleViolation(field, "must be a list of pool ids")]
    if known_pools is None:
        return []
    unknown = [pool for pool in value if pool not in known_pools]
    if unknown:
        names = ", ".join(repr(pool) for pool in unknown)
        return [RuleViolation(field, f"unknown pool {names}; known pools: {', '.join(sorted(known_pools))}")]
    return []


def auth_type(value: object, field: str = "authType") -> list[RuleViolation]:
    if value not in AUTH_TYPES:
        return [RuleViolation(field, 'must be "user" or "ip"')]
    return []


def proxy_type(value: object, field: str = "proxyType") -> list[RuleViolation]:
    if value not in PROXY_TYPES:
        return [RuleViolation(field, 'must be "http" or "socks"')]
    return []


def authenticated_ips(value: object, field: str = "authenticatedIps") -> list[RuleViolation]:
    """authenticatedIps: at most 4 IPv4 addresses; an empty list is allowed (it becomes ["1.1.1.1"] under ip)."""
    if not isinstance(value, list):
        return [RuleViolation(field, "must be a list of IPv4 addresses")]
    if len(value) > MAX_AUTHENTICATED_IPS:
        return [RuleViolation(field, f"at most {MAX_AUTHENTICATED_IPS} addresses are allowed")]
    wrong = [address for address in value if not is_ipv4(address)]
    if wrong:
        return [RuleViolation(field, f"{wrong[0]!r} is not an IPv4 address")]
    return []


def isp_credential(value: object, field: str) -> list[RuleViolation]:
    """An ISP username or password: 4 to 12 letters or digits (the message never repeats the value)."""
    if not _alnum(value) or not ISP_CREDENTIAL_MIN_LENGTH <= len(value) <= ISP_CREDENTIAL_MAX_LENGTH:
        return [
            RuleViolation(
                field, f"must be {ISP_CREDENTIAL_MIN_LENGTH} to {ISP_CREDENTIAL_MAX_LENGTH} letters or digits"
            )
        ]
    return []


def isp_quantity(value: object, field: str = "quantity") -> list[RuleViolation]:
    if not is_int(value) or not 1 <= value <= MAX_ISP_QUANTITY:
        return [RuleViolation(field, f"must be a whole number between 1 and {MAX_ISP_QUANTITY}")]
    return []


def non_empty_text(value: object, field: str) -> list[RuleViolation]:
    if not isinstance(value, str) or not value.strip():
        return [RuleViolation(field, "is required")]
    return []


def isp_token_modifiable(status: str) -> list[RuleViolation]:
    """Only `active` ISP tokens can be modified; the provider answers 409 otherwise."""
    if status != STATUS_ACTIVE:
        return [RuleViolation("status", f"only active tokens can be modified; this one is {status}")]
    return []


# Whole request bodies (API field names), as the client sends them and the sandbox receives them ----------


def _changes_one_of(body: Mapping[str, Any], fields: tuple[str, ...]) -> list[RuleViolation]:
    if any(name in body for name in fields):
        return []
    # No field name: the whole request is at fault, so a form shows it above the fields.
    return [RuleViolation("", f"give at least one field to change: {', '.join(fields[:-1])} or {fields[-1]}")]


def modify_request(body: Mapping[str, Any], fields: tuple[str, ...]) -> list[RuleViolation]:
    """A modify (PATCH) body as a whole: it names its token and changes at least one of `fields`.

    The field values are not looked at: a form checks each with its own rule as it cleans that field,
    then the request with this one. `modify_resi_token`/`modify_isp_token` check both, for the client.
    """
    return token(body.get("token")) + _changes_one_of(body, fields)


def create_resi_token(body: Mapping[str, Any]) -> list[RuleViolation]:
    """POST /resi/token/create: dataLimit required; username and durationHours optional; no password."""
    violations = data_limit(body.get("dataLimit"))
    if "username" in body:
        violations += resi_username(body["username"])
    if "durationHours" in body:
        violations += duration_hours(body["durationHours"])
    if "password" in body:
        violations.append(RuleViolation("password", "is generated by the provider and cannot be set"))
    return violations


def modify_resi_token(
    body: Mapping[str, Any], *, known_pools: Collection[str] | None, current_data_limit: int | None = None
) -> list[RuleViolation]:
    """PATCH /resi/token: token plus at least one of allowedPools, dataLimit, durationHours; no password."""
    violations = token(body.get("token"))
    if "password" in body:
        violations.append(RuleViolation("password", "cannot be modified on a residential token"))
    violations += _changes_one_of(body, RESI_MODIFIABLE_FIELDS)
    if "allowedPools" in body:
        violations += allowed_pools(body["allowedPools"], known_pools)
    if "dataLimit" in body:
        violations += data_limit(body["dataLimit"], current=current_data_limit)
    if "durationHours" in body:
        violations += duration_hours(body["durationHours"])
    return violations


def create_isp_token(body: Mapping[str, Any]) -> list[RuleViolation]:
    """POST /isp/token/create: region, product, quantity, proxyType, authType and durationHours, all required."""
    return [
        *non_empty_text(body.get("region"), "region"),
        *non_empty_text(body.get("product"), "product"),
        *isp_quantity(body.get("quantity")),
        *proxy_type(body.get("proxyType")),
        *auth_type(body.get("authType")),
        *duration_hours(body.get("durationHours")),
    ]


def modify_isp_token(body: Mapping[str, Any]) -> list[RuleViolation]:
    """PATCH /isp/token: token plus at least one of authType, authenticatedIps, proxyType, username, password."""
    violations = modify_request(body, ISP_MODIFIABLE_FIELDS)
    if "authType" in body:
        violations += auth_type(body["authType"])
    if "authenticatedIps" in body:
        violations += authenticated_ips(body["authenticatedIps"])
    if "proxyType" in body:
        violations += proxy_type(body["proxyType"])
    for name in ("username", "password"):
        if name in body:
            violations += isp_credential(body[name], name)
    return violations


# Expiry arithmetic -------------------------------------------------------------


def expires_at(created_at: float, duration_hours: int) -> float | None:
    """Unix seconds when time runs out (createdAt + durationHours hours); None when durationHours is 0."""
    if duration_hours == 0:
        return None
    return created_at + duration_hours * 3600


def is_time_expired(created_at: float, duration_hours: int, now: float) -> bool:
    end = expires_at(created_at, duration_hours)
    return end is not None and end <= now


def is_data_exhausted(data_usage: int, data_limit: int | None) -> bool:
    """ISP tokens carry no dataLimit (None): they never run out of data."""
    return data_limit is not None and data_usage >= data_limit


def is_expired(*, created_at: float, duration_hours: int, data_usage: int, data_limit: int | None, now: float) -> bool:
    """A token is expired when either limit is reached."""
    return is_time_expired(created_at, duration_hours, now) or is_data_exhausted(data_usage, data_limit)
