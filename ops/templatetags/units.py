"""Display filters for every page: decimal gigabytes (as providers bill), percentages and money."""

from __future__ import annotations

from django import template

from ops.units import format_gb, format_money, format_percent

register = template.Library()

gb = register.filter("gb", format_gb)
percent = register.filter("percent", format_percent)
money = register.filter("money", format_money)
