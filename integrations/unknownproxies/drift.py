"""What of an Unknown Proxies token someone could change in the provider's console, and setting ours back.

Residential tokens: the credentials (the API cannot set them: accepting is the only way), the data limit,
the duration and the pools. ISP tokens: authentication, whitelisted IPs, protocol and credentials, all of
which `isp_token_modify` sets back. Data usage and the natural end of a token are never drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.unknownproxies import actions
from integrations.unknownproxies.kinds import ISP_TOKEN, RESI_TOKEN
from providers.registry import ActionRefused, WatchedField

USERNAME = WatchedField("username", "Username", customer_facing=True, restorable=False)
PASSWORD = WatchedField("password", "Password", secret=True, customer_facing=True, restorable=False)
FIELDS: dict[str, tuple[WatchedField, ...]] = {
    RESI_TOKEN: (
        USERNAME,
        PASSWORD,
        WatchedField("dataLimit", "Data limit (bytes)", customer_facing=True),
        WatchedField("durationHours", "Duration (hours)", customer_facing=True),
        WatchedField("allowedPools", "Pools", customer_facing=True),
    ),
    ISP_TOKEN: (
        WatchedField("authType", "Authentication", customer_facing=True),
        WatchedField("authenticatedIps", "Whitelisted IPs", customer_facing=True),
        WatchedField("proxyType", "Protocol", customer_facing=True),
        WatchedField("username", "Username", customer_facing=True),
        WatchedField("password", "Password", secret=True, customer_facing=True),
    ),
}
# Lists whose order means nothing upstream: compared sorted, so a reordering is not a change.
UNORDERED = ("allowedPools", "authenticatedIps")


def watched_fields(resource_kind: str) -> tuple[WatchedField, ...]:
    return FIELDS.get(resource_kind, ())


KEYS = {kind: tuple(field.key for field in fields) for kind, fields in FIELDS.items()}


def watched_values(resource_kind: str, upstream: Any) -> dict[str, Any]:
    # Called twice for every changed row of a sync (most of them changed only their usage): kept lean.
    if not isinstance(upstream, Mapping):
        return {}
    values = {key: upstream[key] for key in KEYS.get(resource_kind, ()) if key in upstream}
    for key in UNORDERED:
        if isinstance(values.get(key), list):
            values[key] = sorted(map(str, values[key]))
    return values


def restore(resource: Any, values: Mapping[str, Any], actor: Any) -> Any:
    """Set our values back with the token's ordinary modify action (audited there)."""
    unrestorable = [
        field.label for field in watched_fields(resource.kind) if field.key in values and not field.restorable
    ]
    if unrestorable:
        raise ActionRefused(f"Unknown Proxies cannot set a residential token's {', '.join(unrestorable).lower()}.")
    if resource.kind == RESI_TOKEN:
        return actions.resi_token_modify(
            resource=resource,
            actor=actor,
            data_limit=values.get("dataLimit"),
            duration_hours=values.get("durationHours"),
            allowed_pools=values.get("allowedPools"),
        )
    return actions.isp_token_modify(
        resource=resource,
        actor=actor,
        auth_type=values.get("authType"),
        authenticated_ips=values.get("authenticatedIps"),
        proxy_type=values.get("proxyType"),
        username=values.get("username"),
        password=values.get("password"),
    )
