"""Actions on proxy shop subscriptions: new credentials, rotation policy, rotate now, switch network.

Each action calls the shop, mirrors the subscription as the shop then describes it, and writes an audit
row. The rotate link works without the API key, so it is a secret: it is followed here, server-side,
and never handed to a customer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from integrations.proxyshop import client as proxyshop
from integrations.proxyshop.kinds import SHOP_SUBSCRIPTION
from integrations.proxyshop.mirror import shop_subscription_row
from inventory import mirror
from inventory import outcomes as common
from inventory.models import Resource, ResourceStatus
from ops import audit
from providers.http import errors
from providers.registry import client_for_account

UNKNOWN_OUTCOME_NOTE = (
    "the shop did not answer; the change may or may not have been applied; the next sync will show the truth"
)


def subscription_available_networks(*, resource: Resource) -> list[proxyshop.Network]:
    """The networks this subscription may switch to (a read, for the switch form's choices)."""
    _refuse_unless_actionable(resource, "available-networks")
    return _client(resource).available_networks(resource.upstream_id)


def subscription_change_credentials(*, resource: Resource, actor: User | None) -> Resource:
    """Have the shop issue a new password (the old one stops working) and mirror the new credentials."""
    _refuse_unless_actionable(resource, "change-credentials")
    client = _client(resource)
    action = "inventory.shop_subscription.change_credentials"
    new = _attempt(resource, actor, action, {}, lambda: client.change_credentials(resource.upstream_id))
    # Kept even if the read-back below fails, so the customer is never left with the dead password.
    credentials = {**resource.upstream.get("credentials", {}), "password": new.password}
    resource.upstream = {**resource.upstream, "credentials": credentials}
    _refresh(resource, client)
    return _audited(resource, actor, action, {})


def subscription_set_rotation(*, resource: Resource, actor: User | None, minutes: int) -> Resource:
    """Set the auto-rotation policy (0, 5, 10, 15, 30 or 60 minutes; 0 turns it off).

    A subscription without rotation makes the shop answer 409, raised as RotationUnavailableError.
    """
    _refuse_unless_actionable(resource, "set-rotation-policy")
    client = _client(resource)
    action = "inventory.shop_subscription.set_rotation"
    data = {"minutes": minutes}
    _attempt(resource, actor, action, data, lambda: client.set_rotation_policy(resource.upstream_id, minutes))
    _refresh(resource, client)
    return _audited(resource, actor, action, data)


def subscription_rotate_now(*, resource: Resource, actor: User | None) -> Resource:
    """Change the exit IP now by following the subscription's rotate link on the customer's behalf.

    The link is read fresh from the shop (it is the only credential it needs) and never leaves this
    function; a subscription without rotation raises RotationUnavailableError before anything is sent.
    """
    _refuse_unless_actionable(resource, "rotate")
    client = _client(resource)
    subscription = _fetch(client, resource.upstream_id)
    if subscription.rotate is None or not subscription.rotate.available or not subscription.rotate.rotate_path:
        raise errors.RotationUnavailableError(
            "IP rotation is not available for this subscription", provider=proxyshop.PROVIDER, operation="rotate"
        )
    path = subscription.rotate.rotate_path
    action = "inventory.shop_subscription.rotate"
    # A GET that changes state: sent once, without the API key (the link carries its own authority).
    result = _attempt(resource, actor, action, {}, lambda: client.follow_rotate_path(path))
    if result.ip is not None:
        resource.upstream = {**resource.upstream, "currentIp": result.ip}
    _refresh(resource, client)
    return _audited(resource, actor, action, {"ip": resource.upstream.get("currentIp")})


def subscription_switch_network(*, resource: Resource, actor: User | None, target_network: str) -> Resource:
    """Move the subscription to another network (one of `subscription_available_networks`); the IP changes."""
    _refuse_unless_actionable(resource, "switch-network")
    client = _client(resource)
    action = "inventory.shop_subscription.switch_network"
    current = resource.details
    data = {"target_network": target_network, "from": current.network_label if current is not None else ""}
    subscription = _attempt(
        resource, actor, action, data, lambda: client.switch_network(resource.upstream_id, target_network)
    )
    _mirror(resource, subscription)
    return _audited(resource, actor, action, data)


# Shared steps --------------------------------------------------------------------------------------


def subscription_refresh(*, resource: Resource, actor: User | None) -> Resource:
    """Read one subscription from the shop (from its list: there is no single read) and mirror it."""
    _mirror(resource, _fetch(_client(resource), resource.upstream_id))
    return _audited(resource, actor, "inventory.subscription.refresh", {})


def _client(resource: Resource) -> proxyshop.Client:
    return client_for_account(resource.account)


def _refuse_unless_actionable(resource: Resource, operation: str) -> None:
    """Refuse, before any upstream call, what is not a live subscription (the shop answers 409 on expired)."""
    if resource.kind != SHOP_SUBSCRIPTION:
        raise errors.InvalidRequestError(
            f"this action is for a proxy shop subscription, not a {resource.get_kind_display()}",
            provider=proxyshop.PROVIDER,
            operation=operation,
        )
    if resource.status == ResourceStatus.VANISHED:
        raise errors.ConflictError(
            "this subscription is gone upstream and can no longer be changed",
            provider=proxyshop.PROVIDER,
            operation=operation,
        )
    if resource.status == ResourceStatus.EXPIRED or (resource.expires_at and resource.expires_at <= timezone.now()):
        raise errors.ConflictError(
            "this subscription has expired: renew it before changing it",
            provider=proxyshop.PROVIDER,
            operation=operation,
        )


def _attempt(resource: Resource, actor: User | None, action: str, data: dict[str, Any], call: Callable[[], Any]):
    return common.attempt_upstream(
        resource=resource, actor=actor, action=action, data=data, note=UNKNOWN_OUTCOME_NOTE, call=call
    )


def _fetch(client: proxyshop.Client, subscription_id: str) -> proxyshop.Subscription:
    # The shop has no single-subscription read: find it in the list.
    for subscription in client.subscriptions():
        if subscription.id == subscription_id:
            return subscription
    raise errors.NotFoundError(
        "the shop no longer lists this subscription", provider=proxyshop.PROVIDER, operation="subscriptions"
    )


def _refresh(resource: Resource, client: proxyshop.Client) -> None:
    """Read the subscription back after a change whose answer does not describe it, and mirror it.

    The change is already made: if the read fails, the next sync brings the mirror up to date.
    """
    try:
        subscription = _fetch(client, resource.upstream_id)
    except errors.ProviderError:
        return
    _mirror(resource, subscription)


def _mirror(resource: Resource, subscription: proxyshop.Subscription) -> None:
    now = timezone.now()
    mirror.apply_row(resource, shop_subscription_row(subscription, now), now=now, usage=False)


@transaction.atomic
def _audited(resource: Resource, actor: User | None, action: str, data: dict[str, Any]) -> Resource:
    resource.save(update_fields=mirror.MIRRORED_FIELDS)
    audit.record(action=action, actor=actor, target=resource, customer=resource.customer, data=data)
    return resource
