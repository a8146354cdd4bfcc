"""Celery tasks for billing: the upstream side of each order, settling lost answers, automatic orders."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from billing import automatic, foresight, lanes, selectors, services
from providers.http import errors

logger = logging.getLogger(__name__)

# An order younger than this may still be in flight (its request can be seconds old): leave it be.
GRACE = dt.timedelta(minutes=1)
# Orders have their own queue, so a long sync never delays a customer's purchase (see config/celery.py).
ORDERS_QUEUE = "orders"


@shared_task(
    bind=True,
    name="billing.fulfil_order",
    queue=ORDERS_QUEUE,
    # Acknowledged only when done, and given back to the broker when the worker process dies: a killed
    # worker's order runs again, and `order_fulfil` is safe to run again (it never sends twice).
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=60,
    default_retry_delay=5,
)
def fulfil_order(self, order_id: int) -> None:
    """Send a charged order upstream and settle it (or recover it after a crash)."""
    try:
        services.order_fulfil(order_id=order_id)
    except lanes.LaneBusy as exc:
        # Another order of the same plan is in flight; after the retries, reconciliation refunds it.
        raise self.retry(exc=exc) from None


@shared_task(name="billing.reconcile_unknown_orders", ignore_result=True)
def reconcile_unknown_orders() -> dict[str, int]:
    """Settle every order in `unknown` for more than a minute, and every order a dead worker left
    `pending` or `submitted` for longer than `services.STALE_AFTER`; concurrent runs settle each once.

    Each order is re-checked under its lock when settled (`services.order_reconcile_counted`); an error
    on one order leaves it for the next run and does not stop the others. The counts are of what this
    run settled itself: an order a concurrent run settled first is not counted here.
    """
    counts = {"fulfilled": 0, "failed": 0, "needs_decision": 0, "still_unknown": 0}
    now = timezone.now()
    # A charged order whose task never ran (a broker hiccup while queueing) is queued again before it
    # would go stale and be refunded; running an order's task twice is safe.
    for order_id in selectors.pending_orders_to_requeue(
        before=now - GRACE, stale_before=now - services.STALE_AFTER
    ).values_list("pk", flat=True):
        fulfil_order.delay(order_id)
    for order in selectors.unknown_orders_due(before=now - GRACE, stale_before=now - services.STALE_AFTER):
        try:
            settled, by_us = services.order_reconcile_counted(order=order)
        except (errors.ProviderError, services.BillingError, lanes.LaneBusy) as exc:
            logger.warning("order %s: reconciliation postponed: %s", order.pk, exc)
            counts["still_unknown"] += 1
            continue
        except Exception:
            logger.exception("order %s: reconciliation failed", order.pk)
            counts["still_unknown"] += 1
            continue
        if not by_us:
            if not settled.is_settled and settled.state != "needs_decision":
                counts["still_unknown"] += 1
            continue
        counts[settled.state if settled.state in counts else "still_unknown"] += 1
    return counts


@shared_task(name="billing.auto_renew_due", ignore_result=True)
def auto_renew_due() -> dict[str, int]:
    """Renew every proxy whose auto-renew is on and whose expiry is within AUTO_RENEW_DAYS_BEFORE."""
    return automatic.auto_renew_due()


@shared_task(name="billing.auto_top_up_due", ignore_result=True)
def auto_top_up_due() -> dict[str, int]:
    """Buy the chosen GB pack for every token with a data limit past its auto top-up threshold."""
    return automatic.auto_top_up_due()


@shared_task(name="billing.check_foresight", ignore_result=True)
def check_foresight() -> int:
    """Refresh upstream costs and balances; warn staff of short runways, misaligned expiries, renewals below cost."""
    return len(foresight.foresight_check())
