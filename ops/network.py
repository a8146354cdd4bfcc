"""Where a request came from: internal callers (a metrics scraper on the same network) reach the app directly."""

from __future__ import annotations

import ipaddress

from django.conf import settings


def is_internal_request(request) -> bool:
    """The caller is on METRICS_INTERNAL_NETWORKS and came straight to the app, not through the proxy.

    The TLS proxy sets X-Forwarded-For on everything it passes on, and its own address is internal: a
    request carrying that header is treated as public whatever REMOTE_ADDR says.
    """
    if "HTTP_X_FORWARDED_FOR" in request.META or "HTTP_FORWARDED" in request.META:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in settings.METRICS_INTERNAL_NETWORKS)
