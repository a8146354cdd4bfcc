"""Purchase lanes: orders whose upstream evidence could be mistaken for each other's take turns.

Reconciliation finds a lost purchase by what it left upstream (for a shop plan: a new subscription of
that plan). That evidence is only unambiguous when no other order that could leave the same trace is
in flight, so an order holds its lane (`OrderLane`, one row per key) from just before its upstream call
until it is settled, and reconciliation holds it while it looks and settles. The integration names the
lane (`Integration.lane`): by default one per product for purchases and one per resource for renewals.

A lane is a row with a lease, not a lock held across the call: a worker that dies leaves it to expire
(every upstream call ends well within `LEASE`), or to the same order's next attempt, and SQLite and
PostgreSQL behave alike.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.db.models import Q
from django.utils import timezone

from billing import fulfilment
from billing.models import Order, OrderKind, OrderLane, OrderState

# Longer than any upstream call (5 s connect + 30 s read, safe retries included) plus the settling.
LEASE = dt.timedelta(minutes=2)
# How long a caller waits for a busy lane before giving up (the task then retries later).
WAIT_SECONDS = 10.0
POLL_SECONDS = 0.02
# Orders that may still turn out to have bought something upstream.
UNSETTLED = (OrderState.SUBMITTED, OrderState.UNKNOWN, OrderState.NEEDS_DECISION)


class LaneBusy(Exception):
    """Another order of the same lane is in flight or being reconciled: try again shortly."""


def lane_key(order: Order) -> str:
    """The lane of an order: the provider account and what the integration says could be confused."""
    return f"{order.product.account_id}:{fulfilment.lane(order)}"


@contextmanager
def holding(order: Order, *, wait_seconds: float | None = None) -> Iterator[None]:
    """Hold the order's lane for the block; raises LaneBusy when it stays taken for `wait_seconds`."""
    key, token = lane_key(order), uuid.uuid4().hex
    wait_seconds = WAIT_SECONDS if wait_seconds is None else wait_seconds
    OrderLane.objects.get_or_create(key=key)  # a racing creator's row is read back, not duplicated
    deadline = time.monotonic() + wait_seconds
    while True:
        now = timezone.now()
        # Free, expired, or left by an earlier attempt at this same order (a task run again after its
        # worker died: only it could be confused with itself).
        free = Q(holder="") | Q(lease_until__lt=now) | Q(holder_order=order)
        if OrderLane.objects.filter(free, key=key).update(holder=token, holder_order=order, lease_until=now + LEASE):
            break
        if time.monotonic() >= deadline:
            raise LaneBusy(f"order {order.pk}: another order of lane {key} is in flight")
        time.sleep(POLL_SECONDS)
    try:
        yield
    finally:
        OrderLane.objects.filter(key=key, holder=token).update(holder="", holder_order=None, lease_until=None)


def unsettled_lane_mates(order: Order) -> list[Order]:
    """Other purchases of the same lane that may still have bought something upstream."""
    if order.kind != OrderKind.PURCHASE:
        return []
    key = lane_key(order)
    mates = (
        Order.objects.filter(product__account_id=order.product.account_id, kind=OrderKind.PURCHASE, state__in=UNSETTLED)
        .exclude(pk=order.pk)
        .select_related("product__account", "customer")
        .order_by("pk")
    )
    return [mate for mate in mates if lane_key(mate) == key]
