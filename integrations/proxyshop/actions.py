"""Actions on the proxy shop: its plans, buying and trying subscriptions for stock or for a customer,
renewing one, and on a subscription: new credentials, rotation policy, rotate now, switch network.

Each action calls the shop, mirrors the subscription as the shop then describes it, and writes an audit
row. The rotate link works without the API key, so it is a secret: it is followed here, server-side,
and never handed to a customer. The shop does not say which plans are sold out; a purchase or trial it
refuses as sold out is remembered for a while (`SOLD_OUT_SECONDS`) so the plans page can mark the plan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.models import Customer, User
from billing.models import Product
from integrations.proxyshop import client as proxyshop
from integrations.proxyshop.kinds import SHOP_PLAN, SHOP_SUBSCRIPTION
from integrations.proxyshop.mirror import shop_subscription_row
from inventory import assignment, mirror
from inventory import outcomes as common
from inventory.models import Resource, ResourceStatus
from ops import audit
from providers.http import errors
from providers.models import ProviderAccount
from providers.registry import client_for_account

# How long a plan the shop refused as sold out is marked so on the plans page.
SOLD_OUT_SECONDS = 6 * 3600

UNKNOWN_OUTCOME_NOTE = (
    "the shop did not answer; the change may or may not have been applied; the next sync will show the truth"
)


# The account: plans, purchase, trial -------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogPlan:
    """One line of the plans page: a plan the shop lists, or one our catalog sells that it no longer lists."""

    id: str
    plan: proxyshop.Plan | None  # None: the shop no longer lists it (inactive)
    sold_out_since: dt.datetime | None
    products: tuple[str, ...]  # the names of our products that sell it

    @property
    def inactive(self) -> bool:
        return self.plan is None

    @property
    def sold_out(self) -> bool:
        return self.sold_out_since is not None


def shop_plans(*, account: ProviderAccount) -> list[CatalogPlan]:
    """The shop's plans for this key, marked: sold out (as the shop last refused it) or inactive.

    "Returns active proxy plans": a plan the shop stops listing is inactive. Those our catalog still
    sells are listed too, marked, so staff can take the product off sale.
    """
    plans = {plan.id: plan for plan in client_for_account(account).plans()}
    products: dict[str, list[str]] = {}
    for product in Product.objects.filter(account=account, kind=SHOP_PLAN).order_by("name"):
        products.setdefault(str(product.parameters.get("plan_id", "")), []).append(product.name)
    ids = [*plans, *(plan_id for plan_id in products if plan_id and plan_id not in plans)]
    return [
        CatalogPlan(
            id=plan_id,
            plan=plans.get(plan_id),
            sold_out_since=cache.get(_sold_out_key(account, plan_id)),
            products=tuple(products.get(plan_id, ())),
        )
        for plan_id in ids
    ]


def shop_plan(*, account: ProviderAccount, plan_id: str) -> proxyshop.Plan | None:
    """One plan the shop lists now (None when it does not), for pricing a purchase."""
    return next((plan for plan in client_for_account(account).plans() if plan.id == plan_id), None)


def shop_purchase(
    *,
    account: ProviderAccount,
    actor: User | None,
    plan_id: str,
    quantity: int = 1,
    repeat_count: int = 1,
    coupon_code: str | None = None,
    customer: Customer | None = None,
) -> list[Resource]:
    """Buy `quantity` subscriptions of a plan from our shop balance, for stock or straight for `customer`.

    The shop charges `price * repeatCount * quantity` less the coupon. An unknown or expired coupon is
    refused (CouponRejectedError) and nothing is bought; a sold-out plan raises SoldOutError and is
    remembered as such for the plans page.
    """
    data = {"plan_id": plan_id, "quantity": quantity, "repeat_count": repeat_count, "coupon_code": coupon_code or ""}
    client = client_for_account(account)
    bought = _account_attempt(
        account,
        actor,
        "inventory.shop.purchase",
        data,
        customer,
        lambda: client.purchase(plan_id, coupon_code=coupon_code, repeat_count=repeat_count, quantity=quantity),
    )
    return _bought(account, client, actor, "inventory.shop.purchase", data, bought, customer)


def shop_trial(*, account: ProviderAccount, actor: User | None, plan_id: str, customer: Customer | None = None):
    """Ask the shop for a free trial subscription of a plan; raises TrialNotEnabledError (403) for most keys."""
    data = {"plan_id": plan_id}
    client = client_for_account(account)
    given = _account_attempt(account, actor, "inventory.shop.trial", data, customer, lambda: client.trial(plan_id))
    return _bought(account, client, actor, "inventory.shop.trial", data, given, customer)


def _account_attempt(account, actor, action, data, customer, call: Callable[[], Any]):
    """The upstream call of a purchase or trial: a lost answer is audited on the account, a sold-out plan noted."""
    with common.recording_unknown_outcome(
        action=action,
        actor=actor,
        target=account,
        customer=customer,
        data={**data, "outcome": "unknown", "note": UNKNOWN_OUTCOME_NOTE},
    ):
        try:
            return call()
        except errors.SoldOutError:
            plan_sold_out(account=account, plan_id=data["plan_id"])
            raise


def plan_sold_out(*, account: ProviderAccount, plan_id: str) -> None:
    """Note that the shop just refused a plan as sold out (by staff or by a customer's order)."""
    cache.set(_sold_out_key(account, plan_id), timezone.now(), SOLD_OUT_SECONDS)


def _sold_out_key(account: ProviderAccount, plan_id: str) -> str:
    return f"proxyshop:sold-out:{account.pk}:{plan_id}"


def _bought(
    account: ProviderAccount,
    client: proxyshop.Client,
    actor: User | None,
    action: str,
    data: dict[str, Any],
    result: proxyshop.PurchaseResult,
    customer: Customer | None,
) -> list[Resource]:
    """Mirror what a purchase or trial created (read back whole: the answer may omit the credentials),
    assign it to the customer when one was chosen, and audit it."""
    now = timezone.now()
    answered = {subscription.id: subscription for subscription in result.subscriptions}
    try:
        listed = {s.id: s for s in client.subscriptions() if s.id in result.subscription_ids}
    except errors.ProviderError:
        listed = {}  # bought all the same: the next sync fills in what the answer left out
    with transaction.atomic():
        resources = []
        for subscription_id in result.subscription_ids:
            subscription = listed.get(subscription_id) or answered.get(subscription_id)
            if subscription is None:
                continue
            resource = mirror.mirror_row(account, shop_subscription_row(subscription, now), now=now)
            if customer is not None:
                resource = assignment.resource_assign(resource=resource, customer=customer, actor=actor)
            resources.append(resource)
        audit.record(
            action=action,
            actor=actor,
            target=account,
            customer=customer,
            data={
                **data,
                "subscriptions": list(result.subscription_ids),
                "customer": customer.name if customer else None,
            },
        )
    return resources


# A subscription --------------------------------------------------------------------------------------------


def subscription_renewal_plans(*, resource: Resource) -> list[proxyshop.RenewalPlan]:
    """The plans this subscription may be renewed with (a read, for the renew form's choices)."""
    _refuse_unless_renewable(resource)
    return _client(resource).renewal_plans(resource.upstream_id)


def subscription_renew(
    *, resource: Resource, actor: User | None, plan_id: str, repeat_count: int = 1, coupon_code: str | None = None
) -> Resource:
    """Renew with an eligible renewal plan, `repeat_count` times (charged `price * repeatCount` less the coupon).

    README decision: an expired subscription can be renewed; the new end is the later of now and its
    end, plus the plan's duration * repeatCount. Only one gone upstream is refused.
    """
    _refuse_unless_renewable(resource)
    client = _client(resource)
    action = "inventory.shop_subscription.renew"
    previous = resource.expires_at
    data = {"plan_id": plan_id, "repeat_count": repeat_count, "coupon_code": coupon_code or ""}
    renewed = _attempt(
        resource,
        actor,
        action,
        data,
        lambda: client.renew(resource.upstream_id, plan_id, coupon_code=coupon_code, repeat_count=repeat_count),
    )
    # The answer carries only the new end: keep it even if the read-back below fails.
    resource.expires_at = renewed.end_at
    resource.upstream = {**resource.upstream, "activeUntil": round(renewed.end_at.timestamp() * 1000)}
    if renewed.end_at > timezone.now():
        resource.status = ResourceStatus.ACTIVE
    _refresh(resource, client)
    data["from"] = previous.isoformat() if previous else None
    data["until"] = resource.expires_at.isoformat() if resource.expires_at else None
    return _audited(resource, actor, action, data)


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
    previous = (resource.upstream or {}).get("credentials")  # a purchase answer may have had none
    credentials = {**(previous if isinstance(previous, dict) else {}), "password": new.password}
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
    rotated = resource.details
    return _audited(resource, actor, action, {"ip": rotated.current_ip if rotated is not None else None})


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


def _refuse_unless_renewable(resource: Resource) -> None:
    """A renewal needs a subscription the shop still has; expired is fine (README decision)."""
    if resource.kind != SHOP_SUBSCRIPTION:
        raise errors.InvalidRequestError(
            f"this action is for a proxy shop subscription, not a {resource.get_kind_display()}",
            provider=proxyshop.PROVIDER,
            operation="renew",
        )
    if resource.status == ResourceStatus.VANISHED:
        raise errors.ConflictError(
            "this subscription is gone upstream and can no longer be renewed",
            provider=proxyshop.PROVIDER,
            operation="renew",
        )


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
