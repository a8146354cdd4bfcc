"""Units shown to people: money in integer minor units, and data in decimal gigabytes."""

from __future__ import annotations

from django.conf import settings

# Providers sell and bill data in decimal gigabytes.
GB = 1_000_000_000


def format_money(cents: int | None) -> str:
    """Integer minor units as a display amount, e.g. "12.00 USD" (the currency is settings.CURRENCY)."""
    if cents is None:
        return "—"
    sign = "−" if cents < 0 else ""  # noqa: RUF001 (a minus sign, as meant)
    whole, minor = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{minor:02d} {settings.CURRENCY}"


def format_gb(value: int | None) -> str:
    """Bytes as decimal gigabytes, the unit upstream limits are sold in."""
    if value is None:
        return "—"
    return f"{value / GB:,.2f} GB"


def format_percent(fraction: float | None) -> str:
    return "—" if fraction is None else f"{fraction * 100:.0f}%"
