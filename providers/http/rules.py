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
