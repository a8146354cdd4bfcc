"""Celery tasks for billing: settle orders whose upstream answer was lost."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from billing import selectors, services
from providers.http import errors

logger = logging.getLogger(__name__)

# An order younger than this may still be in flight (its request can be seconds old): leave it be.
GRACE = dt.timedelta(minutes=1)


@shared_task(name="billing.reconcile_unknown_orders", ignore_result=True)
def reconcile_unknown_orders() -> dict[str, int]:
    """Settle every order in `unknown` for more than a minute, and every order a dead worker left
    `pending` or `submitted` for longer than `services.STALE_AFTER`; concurrent runs settle each once.

    Each order is re-checked under its lock when settled (`services.order_reconcile`); an error on
    one order leaves it for the next run and does not stop the others.
    """
    counts = {"fulfilled": 0, "failed": 0, "still_unknown": 0}
    now = timezone.now()
    for order in selectors.unknown_orders_due(before=now - GRACE, stale_before=now - services.STALE_AFTER):
        try:
            settled = services.order_reconcile(order=order)
        except (errors.ProviderError, services.BillingError) as exc:
            logger.warning("order %s: reconciliation postponed: %s", order.pk, exc)
            counts["still_unknown"] += 1
            continue
        except Exception:
            logger.exception("order %s: reconciliation failed", order.pk)
            counts["still_unknown"] += 1
            continue
        if settled.state in counts:
            counts[settled.state] += 1
        else:
            counts["still_unknown"] += 1
    return counts
