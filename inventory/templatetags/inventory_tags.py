"""Display helpers for inventory pages: decimal gigabytes (as providers bill) and usage percentages."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def gb(value: int | None) -> str:
    """Bytes as decimal gigabytes, the unit upstream limits are sold in (1 GB = 10^9 bytes)."""
    if value is None:
        return "—"
    return f"{value / 1_000_000_000:,.2f} GB"


@register.filter
def percent(fraction: float | None) -> str:
    return "—" if fraction is None else f"{fraction * 100:.0f}%"
