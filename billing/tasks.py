"""Celery tasks for billing: settle orders whose upstream answer was lost."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from billing import selectors, services
from providers import errors

logger = logging.getLogger(__name__)

# An order younger than this may still be in flight (its request can be seconds old): leave it be.
GRACE = dt.timedelta(minutes=1)


@shared_task(name="billing.reconcile_unknown_orders", ignore_result=True)
def reconcile_unknown_orders() -> dict[str, int]:
    """Settle every order in `unknown` for more than a minute; concurrent runs settle each order once.

    Each order is locked while it is settled (`services.order_reconcile`); a provider error leaves the
    order unknown for the next run.
    """
    counts = {"fulfilled": 0, "failed": 0, "still_unknown": 0}
    for order in selectors.unknown_orders_due(before=timezone.now() - GRACE):
        try:
            settled = services.order_reconcile(order=order)
        except errors.ProviderError as exc:
            logger.warning("order %s: reconciliation postponed: %s", order.pk, exc)
            counts["still_unknown"] += 1
            continue
        if settled.state in counts:
            counts[settled.state] += 1
    return counts
