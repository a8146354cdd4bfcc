"""What of a proxy-shop subscription someone could change in the shop's own panel, and setting ours back.

The credentials (the shop only issues new ones, it cannot set ours back: accepting is the only way), the
network and the rotation policy (both set back through the ordinary subscription actions). The exit IP
changing and the subscription's natural end are never drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.proxyshop import actions
from integrations.proxyshop.kinds import SHOP_SUBSCRIPTION
from providers.registry import ActionRefused, WatchedField

FIELDS = (
    WatchedField("username", "Username", customer_facing=True, restorable=False),
    WatchedField("password", "Password", secret=True, customer_facing=True, restorable=False),
    WatchedField("network", "Network", customer_facing=True),
    WatchedField("rotation", "Rotation policy (minutes)", customer_facing=True),
)


def watched_fields(resource_kind: str) -> tuple[WatchedField, ...]:
    return FIELDS if resource_kind == SHOP_SUBSCRIPTION else ()


def watched_values(resource_kind: str, upstream: Any) -> dict[str, Any]:
    if resource_kind != SHOP_SUBSCRIPTION or not isinstance(upstream, Mapping):
        return {}
    values: dict[str, Any] = {}
    # A purchase answer may omit the credentials and the policy: only what the mirror holds is compared.
    credentials = upstream.get("credentials")
    if isinstance(credentials, Mapping):
        values["username"] = credentials.get("username")
        values["password"] = credentials.get("password")
    if "networkLabel" in upstream:
        values["network"] = upstream["networkLabel"]
    if "rotationPolicy" in upstream:
        values["rotation"] = upstream["rotationPolicy"]
    return values


def restore(resource: Any, values: Mapping[str, Any], actor: Any) -> Any:
    """Set our network and/or rotation policy back with the subscription's ordinary actions (audited there)."""
    if "username" in values or "password" in values:
        raise ActionRefused("The shop cannot set chosen credentials, only issue new ones.")
    if "rotation" in values:
        resource = actions.subscription_set_rotation(
            resource=resource, actor=actor, minutes=int(values["rotation"] or 0)
        )
    if "network" in values:
        wanted = values["network"]
        networks = actions.subscription_available_networks(resource=resource)
        target = next((network for network in networks if network.network_label == wanted), None)
        if target is None:
            raise ActionRefused(f"The shop no longer offers the network {wanted} for this subscription.")
        resource = actions.subscription_switch_network(resource=resource, actor=actor, target_network=target.id)
    return resource
