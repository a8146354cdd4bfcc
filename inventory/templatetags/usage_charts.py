"""`{% usage_chart resource %}`: the usage history charts and projection of one resource, on any detail page."""

from __future__ import annotations

from django import template

from inventory.usage import usage_history

register = template.Library()


@register.inclusion_tag("partials/usage_chart.html")
def usage_chart(resource):
    return {"resource": resource, "usage": usage_history(resource)}
