"""Selling proxy-shop plans: what to send for a purchase or a renewal, sending it, and finding it again."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q
from django.utils import timezone

from billing.models import Order, OrderKind
from integrations.proxyshop import actions
from integrations.proxyshop import client as proxyshop
from integrations.proxyshop.kinds import PROXY_SHOP, SHOP_SUBSCRIPTION
from integrations.proxyshop.mirror import shop_subscription_row
from inventory.mirror import Row
from inventory.models import Resource
from providers.http import errors
from providers.registry import client_for_account

# How far the shop's clock may be from ours when telling "bought after we submitted" apart.
CLOCK_SKEW = dt.timedelta(minutes=5)


def product_plan_id(product) -> str:
    return str(product.parameters.get("plan_id", ""))


def prepare(order: Order) -> dict[str, Any]:
    product = order.product
    if order.kind == OrderKind.PURCHASE:
        return {"plan_id": product_plan_id(product), "quantity": order.quantity}
    # The end to compare against later is read upstream, not from our mirror: a stale mirror would let
    # reconciliation take an end that was already there for a renewal that never happened.
    subscription_id = order.resource.upstream_id
    current = next((s for s in _client(order).subscriptions() if s.id == subscription_id), None)
    if current is None:
        # Nothing was sent, so this is a clean failure. An expired one is renewed from now (README decision).
        raise errors.NotFoundError(
            f"subscription {subscription_id} is gone: the shop cannot renew it", provider=PROXY_SHOP, operation="renew"
        )
    return {
        "plan_id": product_plan_id(product),
        "subscription_id": subscription_id,
        "previous_active_until_ms": round(current.active_until.timestamp() * 1000),
    }


def submit(order: Order) -> list[Row]:
    request, now, client = order.request, timezone.now(), _client(order)
    if order.kind == OrderKind.PURCHASE:
        try:
            result = client.purchase(request["plan_id"], quantity=request["quantity"])
        except errors.SoldOutError:
            actions.plan_sold_out(account=order.product.account, plan_id=request["plan_id"])  # for the plans page
            raise
        if len(result.subscriptions) != request["quantity"]:
            # Paid for but not (all) delivered in the answer: hold the money and let reconciliation look.
            raise errors.MalformedResponseError(
                f"purchase answered {len(result.subscriptions)} subscriptions for quantity {request['quantity']}",
                provider=PROXY_SHOP,
                operation="purchase",
            )
        return [shop_subscription_row(subscription, now) for subscription in result.subscriptions]
    client.renew(request["subscription_id"], request["plan_id"])
    # The renew answer carries only the new end: read the subscription back whole for the mirror.
    return [shop_subscription_row(s, now) for s in client.subscriptions() if s.id == request["subscription_id"]]


def find(order: Order) -> list[Row] | None:
    request, now, client = order.request, timezone.now(), _client(order)
    if order.kind == OrderKind.RENEWAL:
        subscription = next((s for s in client.subscriptions() if s.id == request["subscription_id"]), None)
        if subscription is None:
            return None
        renewed = round(subscription.active_until.timestamp() * 1000) > request["previous_active_until_ms"]
        return [shop_subscription_row(subscription, now)] if renewed else None
    # Every candidate, not just `quantity` of them: more than that is evidence the core must weigh.
    found = _unclaimed_new_subscriptions(order, client)
    return [shop_subscription_row(subscription, now) for subscription in found] or None


def lane(order: Order) -> str:
    """Purchases of one plan leave the same trace (a new subscription of the plan), whatever the product."""
    if order.kind == OrderKind.PURCHASE:
        return f"plan:{product_plan_id(order.product)}"
    return f"renew:{order.resource_id}"


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
        Resource.objects.filter(account=order.product.account, kind=SHOP_SUBSCRIPTION, upstream_id__in=ids)
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


def _client(order: Order) -> proxyshop.Client:
    return client_for_account(order.product.account)
