"""Shared pieces of the rules: the violation type and small checks used by several providers."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class RuleViolation:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def raise_for(violations: list[RuleViolation], *, provider: str, operation: str) -> None:
    """Raise InvalidRequestError for the first violation (clients call this before sending)."""
    if violations:
        from providers.http.errors import InvalidRequestError

        first = violations[0]
        message = "; ".join(str(v) for v in violations)
        raise InvalidRequestError(message, provider=provider, operation=operation, field=first.field or None)


# What our database's integer columns hold (PostgreSQL integer and bigint; SQLite's integers are 64-bit).
# An API that documents "integer" with no bound is still held to these: a value past them could be sent
# upstream and then never be written to the mirror.
INTEGER_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_ipv4(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def is_ip(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def int_range(field: str, value: object, low: int, high: int) -> list[RuleViolation]:
    if not is_int(value):
        return [RuleViolation(field, "must be a whole number")]
    if not low <= value <= high:
        return [RuleViolation(field, f"must be between {low} and {high}")]
    return []


def at_most(field: str, value: int, high: int, unit: str = "") -> list[RuleViolation]:
    """The upper bound of a whole number already known to be one (`unit` names what it counts)."""
    if value > high:
        return [RuleViolation(field, f"must be at most {high:,}{f' {unit}' if unit else ''}")]
    return []
