"""The upstream side of an order: what to send for each product kind, sending it, and finding it again later.

Three steps, each called by `billing.services` outside any database transaction:

- `prepare(order)` decides what will be sent (a generated resi username, the new limits of a renewal)
  so the order can store it *before* anything leaves; reconciliation matches on it later.
- `submit(order)` makes the one upstream call that costs us money and returns the mirror rows.
- `find(order)` looks upstream for the effect of a call whose answer was lost: rows when it happened,
  None when it did not.

Every row comes from the inventory sync mapping (`inventory.sync.*_row`), so a bought resource looks
exactly like a synced one.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
import string
from typing import Any

from django.db.models import Q
from django.utils import timezone

from billing.models import Order, OrderKind, ProductKind
from inventory.models import Resource, ResourceKind
from inventory.sync import Row, resi_token_row, shop_subscription_row
from providers import errors
from providers.clients import proxyshop, unknownproxies
from providers.rules import unknownproxies as resi_rules
from providers.services import client_for_account

GB = 1_000_000_000
USERNAME_ALPHABET = string.ascii_letters + string.digits
# How far the shop's clock may be from ours when telling "bought after we submitted" apart.
CLOCK_SKEW = dt.timedelta(minutes=5)

# Which resource kind each product kind creates and renews.
RESOURCE_KIND = {ProductKind.RESI_GB: ResourceKind.RESI_TOKEN, ProductKind.SHOP_PLAN: ResourceKind.SHOP_SUBSCRIPTION}


def generate_resi_username() -> str:
    """8 letters and digits (the create rule): the handle reconciliation finds a lost token by."""
    return "".join(secrets.choice(USERNAME_ALPHABET) for _ in range(resi_rules.RESI_USERNAME_LENGTH))


# Prepare ------------------------------------------------------------------------------------------


def prepare(order: Order) -> dict[str, Any]:
    """What `submit` will send, decided (and for renewals read upstream) before anything is sent."""
    product = order.product
    if product.kind == ProductKind.RESI_GB:
        if order.kind == OrderKind.PURCHASE:
            request = {"username": generate_resi_username(), "data_limit": product.gb * GB}
            if product.duration_hours:
                request["duration_hours"] = product.duration_hours
            return request
        current = _resi_client(order).get_resi_token(order.resource.upstream_id)
        return resi_renewal_request(current, gb=product.gb, hours=product.duration_hours, now=timezone.now())
    if order.kind == OrderKind.PURCHASE:
        return {"plan_id": product.plan_id, "quantity": order.quantity}
    # The end to compare against later is read upstream, not from our mirror: a stale mirror would let
    # reconciliation take an end that was already there for a renewal that never happened.
    subscription_id = order.resource.upstream_id
    current = next((s for s in _shop_client(order).subscriptions() if s.id == subscription_id), None)
    if current is None or current.active_until <= timezone.now():
        # The shop answers 409 on an expired subscription; nothing was sent, so this is a clean failure.
        raise errors.ConflictError(
            f"subscription {subscription_id} is expired or gone: the shop cannot renew it",
            provider="shop",
            operation="renew",
        )
    return {
        "plan_id": product.plan_id,
        "subscription_id": subscription_id,
        "previous_active_until_ms": round(current.active_until.timestamp() * 1000),
    }


def resi_renewal_request(current: unknownproxies.ResiToken, *, gb: int, hours: int, now: dt.datetime) -> dict:
    """More GB on top of the current limit; a time limit extended by `hours` past the later of now and expiry.

    Expiry is `createdAt + durationHours` (README decisions), so the new durationHours is counted from
    createdAt: max(current duration, hours already elapsed) + hours. A token without a time limit
    (durationHours 0) keeps none.
    """
    # dataLimit must stay whole GB: a legacy limit with a fraction is rounded up before adding what was paid for.
    whole = -(-current.data_limit // GB) * GB
    request: dict[str, Any] = {"data_limit": whole + gb * GB, "previous_data_limit": current.data_limit}
    if hours and current.duration_hours:
        elapsed = math.ceil(max(0.0, (now - current.created_at).total_seconds()) / 3600)
        request["duration_hours"] = max(current.duration_hours, elapsed) + hours
    return request


# Submit -------------------------------------------------------------------------------------------


def submit(order: Order) -> list[Row]:
    """Make the upstream call for this order (never retried); returns what to mirror. Raises ProviderError."""
    request, now = order.request, timezone.now()
    if order.product.kind == ProductKind.RESI_GB:
        client = _resi_client(order)
        if order.kind == OrderKind.PURCHASE:
            token = client.create_resi_token(
                data_limit=request["data_limit"],
                username=request["username"],
                duration_hours=request.get("duration_hours"),
            )
        else:
            token = client.modify_resi_token(
                order.resource.upstream_id,
                data_limit=request["data_limit"],
                duration_hours=request.get("duration_hours"),
                current_data_limit=request["previous_data_limit"],
            )
        return [resi_token_row(token, now)]
    client = _shop_client(order)
    if order.kind == OrderKind.PURCHASE:
        result = client.purchase(request["plan_id"], quantity=request["quantity"])
        if len(result.subscriptions) != request["quantity"]:
            # Paid for but not (all) delivered in the answer: hold the money and let reconciliation look.
            raise errors.MalformedResponseError(
                f"purchase answered {len(result.subscriptions)} subscriptions for quantity {request['quantity']}",
                provider="shop",
                operation="purchase",
            )
        return [shop_subscription_row(subscription, now) for subscription in result.subscriptions]
    client.renew(request["subscription_id"], request["plan_id"])
    # The renew answer carries only the new end: read the subscription back whole for the mirror.
    return _shop_rows(client, {request["subscription_id"]}, now)


# Find (reconciliation) ------------------------------------------------------------------------------


def find(order: Order) -> list[Row] | None:
    """Did the lost call happen? Rows for what it produced, or None when upstream shows no trace of it."""
    request, now = order.request, timezone.now()
    if order.product.kind == ProductKind.RESI_GB:
        client = _resi_client(order)
        if order.kind == OrderKind.PURCHASE:
            token = next((t for t in client.list_resi_tokens() if t.username == request["username"]), None)
            return None if token is None else [resi_token_row(token, now)]
        token = client.get_resi_token(order.resource.upstream_id)
        # Limits never decrease, and only a renewal raises them: reaching the target means it happened.
        return [resi_token_row(token, now)] if token.data_limit >= request["data_limit"] else None
    client = _shop_client(order)
    if order.kind == OrderKind.RENEWAL:
        subscription = next((s for s in client.subscriptions() if s.id == request["subscription_id"]), None)
        if subscription is None:
            return None
        renewed = round(subscription.active_until.timestamp() * 1000) > request["previous_active_until_ms"]
        return [shop_subscription_row(subscription, now)] if renewed else None
    found = _unclaimed_new_subscriptions(order, client)[: request["quantity"]]
    return [shop_subscription_row(subscription, now) for subscription in found] or None


def _unclaimed_new_subscriptions(order: Order, client: proxyshop.Client) -> list[proxyshop.Subscription]:
    """Subscriptions of this plan that began after the order was submitted and nobody else owns yet.

    The list has no creation time: a fresh purchase ends `plan duration` after it was made, so one that
    ends at least that long after our submission (less the clock skew) was bought after it. "Nobody owns"
    means no other order names it and our mirror has not seen it before the submission or given it away.
    """
    plan = next((p for p in client.plans() if p.id == order.request["plan_id"]), None)
    earliest_end = order.submitted_at - CLOCK_SKEW + (plan.duration if plan else dt.timedelta(0))
    candidates = [s for s in client.subscriptions() if s.active_until >= earliest_end]
    ids = [s.id for s in candidates]
    owned = set(
        Resource.objects.filter(account=order.product.account, kind=ResourceKind.SHOP_SUBSCRIPTION, upstream_id__in=ids)
        .filter(Q(customer__isnull=False) | Q(first_seen_at__lt=order.submitted_at))
        .values_list("upstream_id", flat=True)
    )
    claimed = set()
    for ref in (
        Order.objects.filter(product__account=order.product.account).exclude(pk=order.pk).exclude(upstream_ref="")
    ).values_list("upstream_ref", flat=True):
        claimed.update(ref.split(","))
    return sorted(
        (s for s in candidates if s.id not in owned and s.id not in claimed), key=lambda s: (s.active_until, s.id)
    )


# Helpers ------------------------------------------------------------------------------------------


def _shop_rows(client: proxyshop.Client, ids: set[str], now: dt.datetime) -> list[Row]:
    return [shop_subscription_row(s, now) for s in client.subscriptions() if s.id in ids]


def _resi_client(order: Order) -> unknownproxies.Client:
    return client_for_account(order.product.account)  # type: ignore[return-value]


def _shop_client(order: Order) -> proxyshop.Client:
    return client_for_account(order.product.account)  # type: ignore[return-value]
