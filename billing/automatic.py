"""Orders the customer asked for in advance: auto-renew before expiry and auto top-up of a token with a data limit.

Both go through the ordinary order path (`services.order_renew`) with an idempotency key derived from
the resource and its period (the expiry for a renewal, the data limit for a top-up), so a task that is
retried or runs twice at once places one order per period. A refused attempt (upstream failed and the
money was refunded) may be tried again with the next key of the same period, a few times at most.
Not enough money, or the monthly spending cap reached: nothing is charged and the customer is warned
through the alerts (once per warning and period).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone

from billing import services
from billing.models import AutoRenewal, AutoTopUp, Order, OrderState, OrderTrigger, SpendingCap, format_money
from inventory.alerts import alert_customer
from inventory.models import Alert, Resource, ResourceStatus
from ops import audit

logger = logging.getLogger(__name__)

# A period whose automatic order was refunded (upstream refused it) is tried again this many times.
ATTEMPTS = 3
# The second warning about a renewal that cannot be paid for comes when less than this is left.
LAST_WARNING = dt.timedelta(days=1)


def _key(base: str) -> str | None:
    """The key of this period's next attempt: the one in flight or fulfilled, else one past the refunded ones."""
    refunded = Order.objects.filter(idempotency_key__startswith=f"{base}:", state=OrderState.FAILED).count()
    return f"{base}:{refunded}" if refunded < ATTEMPTS else None


def _attempt(resource: Resource, *, base: str, trigger: str, product=None) -> tuple[str, Order | None, str]:
    """Place this period's automatic order; (outcome, order, refusal message)."""
    key = _key(base)
    if key is None:
        return "gave_up", None, ""
    try:
        already = Order.objects.filter(idempotency_key=key).exists()
        order = services.order_renew(
            customer=resource.customer,
            resource=resource,
            idempotency_key=key,
            actor=None,
            product=product,
            trigger=trigger,
        )
    except services.InsufficientFunds as exc:
        return "no_money", None, str(exc)
    except services.SpendingCapReached as exc:
        return "capped", None, str(exc)
    except services.BillingError as exc:
        logger.info("resource %s: automatic order not placed: %s", resource.pk, exc)
        return "skipped", None, str(exc)
    return ("already" if already else "placed"), order, ""


def auto_renew_due(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Renew each proxy whose auto-renew is on and which expires within AUTO_RENEW_DAYS_BEFORE days."""
    now = now or timezone.now()
    horizon = now + dt.timedelta(days=settings.AUTO_RENEW_DAYS_BEFORE)
    wishes = (
        AutoRenewal.objects.filter(
            enabled=True,
            resource__customer__isnull=False,
            resource__expires_at__gt=now,
            resource__expires_at__lte=horizon,
        )
        .exclude(resource__status=ResourceStatus.VANISHED)
        .select_related("resource__customer", "resource__account")
        .order_by("resource__expires_at", "pk")
    )
    counts = {"placed": 0, "already": 0, "no_money": 0, "capped": 0, "skipped": 0, "gave_up": 0}
    for wish in wishes:
        resource = wish.resource
        period = resource.expires_at.isoformat()
        outcome, _, refusal = _attempt(
            resource,
            base=f"auto-renew:{resource.pk}:{int(resource.expires_at.timestamp())}",
            trigger=OrderTrigger.AUTO_RENEW,
        )
        counts[outcome] += 1
        if outcome in ("no_money", "capped"):
            last = resource.expires_at - now <= LAST_WARNING
            threshold = f"auto-renew:{outcome}{':last' if last else ''}"
            alert_customer(
                resource=resource,
                kind=Alert.Kind.EXPIRY,
                threshold=threshold,
                cycle=period,
                message=(
                    f"{resource} was due to renew itself before it expires on "
                    f"{timezone.localtime(resource.expires_at):%Y-%m-%d %H:%M}, but nothing was charged: {refusal}"
                ),
            )
    return counts


def auto_top_up_due() -> dict[str, int]:
    """Buy the chosen GB pack for each token whose usage has crossed its auto top-up threshold."""
    wishes = (
        AutoTopUp.objects.filter(
            enabled=True,
            product__isnull=False,
            resource__customer__isnull=False,
            resource__data_limit_bytes__gt=0,
            resource__data_used_bytes__isnull=False,
        )
        .exclude(resource__status=ResourceStatus.VANISHED)
        .select_related("resource__customer", "resource__account", "product")
        .order_by("pk")
    )
    counts = {"placed": 0, "already": 0, "no_money": 0, "capped": 0, "skipped": 0, "gave_up": 0}
    for wish in wishes:
        resource = wish.resource
        if resource.data_used_bytes * 100 < resource.data_limit_bytes * wish.threshold_percent:
            continue
        # The usage cycle is the limit: the top-up raises it, and the next crossing is a new period.
        cycle = str(resource.data_limit_bytes)
        outcome, _, refusal = _attempt(
            resource,
            base=f"auto-top-up:{resource.pk}:{cycle}",
            trigger=OrderTrigger.AUTO_TOP_UP,
            product=wish.product,
        )
        counts[outcome] += 1
        if outcome in ("no_money", "capped"):
            alert_customer(
                resource=resource,
                kind=Alert.Kind.USAGE,
                threshold=f"auto-top-up:{outcome}",
                cycle=cycle,
                message=(
                    f"{resource} has used {wish.threshold_percent}% or more of its data and was due to buy "
                    f"{wish.product.name} ({format_money(wish.product.renewal_price_cents)}), but nothing was "
                    f"charged: {refusal}"
                ),
            )
    return counts


def auto_renew_set(*, resource: Resource, enabled: bool, actor) -> AutoRenewal:
    """Turn a proxy's auto-renew on or off (the customer, from the proxy page)."""
    wish, _ = AutoRenewal.objects.update_or_create(resource=resource, defaults={"enabled": enabled})
    audit.record(
        action="billing.auto_renew.on" if enabled else "billing.auto_renew.off",
        actor=actor,
        target=resource,
        customer=resource.customer,
        data={},
    )
    return wish


def auto_top_up_set(*, resource: Resource, enabled: bool, threshold_percent: int, product, actor) -> AutoTopUp:
    """Set a token's auto top-up: on or off, the usage threshold and the GB pack to buy."""
    wish, _ = AutoTopUp.objects.update_or_create(
        resource=resource,
        defaults={"enabled": enabled, "threshold_percent": threshold_percent, "product": product},
    )
    audit.record(
        action="billing.auto_top_up.set",
        actor=actor,
        target=resource,
        customer=resource.customer,
        data={"enabled": enabled, "threshold_percent": threshold_percent, "product": getattr(product, "pk", None)},
    )
    return wish


def spending_cap_set(*, customer, monthly_cap_cents: int | None, actor):
    """The customer's monthly cap on automatic orders (None: no cap)."""
    cap, _ = SpendingCap.objects.update_or_create(customer=customer, defaults={"monthly_cap_cents": monthly_cap_cents})
    audit.record(
        action="billing.spending_cap.set",
        actor=actor,
        target=customer,
        customer=customer,
        data={"monthly_cap_cents": monthly_cap_cents},
    )
    return cap
