"""A customer's timeline for staff: orders, money, alerts and every recorded action on them or their resources.

One newest-first list merged from four tables by keyset (ops.keyset), so a long history pages cheaply.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import CharField, Q
from django.db.models.functions import Cast
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

from accounts.access import customer_for_staff, staff_required
from accounts.models import Customer
from billing.models import LedgerEntry, Order
from inventory.models import Alert, Resource
from ops import keyset
from ops.models import AuditEvent
from ops.selectors import RESOURCE_TARGET

PER_PAGE = 25
# Money and orders have rows of their own on the timeline; their audit copies would only repeat them.
REPEATED_BY_ROWS = ("billing.ledger.", "billing.order.")


@dataclass(frozen=True)
class Item:
    when: dt.datetime
    kind: str  # order, money, alert, action
    title: str
    text: str = ""
    who: str = ""
    link: str = ""
    badge: str = ""


def _order(order: Order) -> Item:
    return Item(
        when=order.created_at,
        kind="order",
        title=f"Order {order.pk}: {order.get_kind_display().lower()} of {order.product.name}",
        text=f"{order.price}" + (f" · {order.error}" if order.error else ""),
        who=order.actor.username if order.actor else "system",
        badge=order.get_state_display(),
    )


def _money(entry: LedgerEntry) -> Item:
    return Item(
        when=entry.created_at,
        kind="money",
        title=f"{entry.get_kind_display()} {entry.amount}",
        text=entry.note,
        who=entry.actor.username if entry.actor else "system",
    )


def _alert(alert: Alert) -> Item:
    return Item(
        when=alert.created_at,
        kind="alert",
        title=f"Alert: {alert.get_kind_display()} ({alert.threshold})",
        text=alert.message,
        who="system",
        badge={"delivered": "sent", "failed": "delivery failed"}.get(alert.delivery_status, alert.delivery_status),
        link=reverse("inventory:resource-detail", args=[alert.resource_id]) if alert.resource_id else "",
    )


def _action(event: AuditEvent) -> Item:
    on_resource = event.target_type == RESOURCE_TARGET and event.target_id.isdigit()
    return Item(
        when=event.created_at,
        kind="action",
        title=event.action,
        text=f"resource {event.target_id}" if on_resource else f"{event.target_type} {event.target_id}".strip(),
        who=event.actor_label,
        link=reverse("inventory:resource-detail", args=[int(event.target_id)]) if on_resource else "",
    )


def timeline_for_customer(*, customer: Customer, cursor: keyset.Cursor | None, size: int = PER_PAGE) -> keyset.Page:
    """The customer's history, newest first: orders, ledger entries, alerts, and actions on them or their resources."""
    resource_ids = (
        Resource.objects.filter(customer=customer).annotate(as_text=Cast("pk", CharField())).values("as_text")
    )
    actions = AuditEvent.objects.filter(
        Q(customer=customer) | Q(target_type=RESOURCE_TARGET, target_id__in=resource_ids)
    )
    for prefix in REPEATED_BY_ROWS:
        actions = actions.exclude(action__startswith=prefix)
    sources = [
        keyset.Source(
            Order.objects.filter(customer=customer).select_related("product", "actor"), rank=3, to_item=_order
        ),
        keyset.Source(LedgerEntry.objects.filter(customer=customer).select_related("actor"), rank=2, to_item=_money),
        keyset.Source(Alert.objects.filter(customer=customer), rank=1, to_item=_alert),
        keyset.Source(actions, rank=0, to_item=_action),
    ]
    return keyset.page(sources, cursor=cursor, size=size)


def timeline_context(customer: Customer, *, before: str | None) -> dict:
    cursor = keyset.Cursor.decode(before)
    page = timeline_for_customer(customer=customer, cursor=cursor)
    url = reverse("staff:customer-timeline", args=[customer.pk])
    return {
        "timeline": page.items,
        "timeline_older": f"{url}?{urlencode({'before': page.next_cursor})}" if page.next_cursor else "",
        "timeline_newest": url if cursor else "",
    }


@staff_required
def customer_timeline(request, customer_id: int):
    customer = customer_for_staff(customer_id)
    context = {"customer": customer, **timeline_context(customer, before=request.GET.get("before"))}
    return render(request, "staff/customer_timeline.html", context)
