"""What our phones will cost and how long they serve what we sold: the iProxy side of `billing.foresight`.

A port costs nothing upstream by itself; it is served only while its phone's plan runs. So the money the
account will spend is the plans of phones that carry sold ports (or that iProxy prolongs by itself,
`prolongation_enabled`), and a port stops serving at the earlier of its own expiry and its phone's plan end.
iProxy's API gives no plan prices: the owner enters one per phone (`PhoneCapacity`).
"""

from __future__ import annotations

import datetime as dt
import math

from django.db.models import Prefetch

from integrations.iproxy import actions
from integrations.iproxy.kinds import IPROXY_ACCESS, IPROXY_CONNECTION
from inventory.models import Resource, ResourceStatus
from providers.registry import UpcomingCost

PLAN_PERIOD = dt.timedelta(days=actions.PLAN_DAYS)
# Ports a customer can still use: they need their phone's plan to keep running.
SERVED = (ResourceStatus.ACTIVE, ResourceStatus.PROCESSING, ResourceStatus.OFFLINE)


def plan_costs_ahead(account, start: dt.datetime, end: dt.datetime) -> list[UpcomingCost]:
    """Each plan period due between `start` and `end` on a phone that carries sold ports (we keep it running
    for them and their renewals) or whose plan iProxy prolongs by itself; an ended plan is due at `start`."""
    sold_ports = Resource.objects.filter(kind=IPROXY_ACCESS, customer__isnull=False, status__in=SERVED)
    phones = (
        Resource.objects.filter(account=account, kind=IPROXY_CONNECTION, expires_at__isnull=False, expires_at__lte=end)
        .exclude(status=ResourceStatus.VANISHED)
        .select_related("iproxy_capacity")
        .prefetch_related(Prefetch("children", queryset=sold_ports, to_attr="sold_ports"))
        .order_by("expires_at", "pk")
    )
    costs = []
    for phone in phones:
        prolongs_itself = bool(((phone.upstream or {}).get("settings") or {}).get("prolongation_enabled"))
        if not phone.sold_ports and not prolongs_itself:
            continue
        capacity = getattr(phone, "iproxy_capacity", None)
        price = capacity.plan_price_cents if capacity is not None else None
        what = f"{phone}: plan prolonged by {actions.PLAN_DAYS} days"
        if prolongs_itself:
            what += " (iProxy prolongs it by itself)"
        due = max(phone.expires_at, start)
        while due <= end:
            costs.append(UpcomingCost(due_at=due, cents=price, what=what, resource=phone))
            due += PLAN_PERIOD
    return costs


def serving_until(resource: Resource) -> dt.datetime | None:
    """A port is served until the earlier of its own expiry and its phone's plan end; a phone, its plan end."""
    if resource.kind != IPROXY_ACCESS or resource.parent is None:
        return resource.expires_at
    phone = resource.parent
    phone_end = phone.expires_at
    if phone_end is None and phone.status in (ResourceStatus.EXPIRED, ResourceStatus.VANISHED):
        # No plan at all: it stopped serving by the time the mirror last saw it.
        phone_end = phone.vanished_at or phone.last_synced_at
    ends = [moment for moment in (resource.expires_at, phone_end) if moment is not None]
    return min(ends) if ends else None


def align_refusal(resource: Resource) -> str:
    if resource.kind == IPROXY_CONNECTION:
        return ""
    if resource.paid_through is None:
        return "no paid period is recorded for this port"
    if resource.parent is None:
        return "this port is on no phone we know of"
    if resource.parent.expires_at is None:
        return "its phone has no plan: choose one on the phone's page"
    return ""


def align(resource: Resource, actor) -> Resource:
    """Prolong the phone's plan by enough whole periods to cover the port's paid period, and give the port
    its paid expiry back if upstream now ends it sooner (both through the audited actions)."""
    if resource.kind == IPROXY_CONNECTION:
        return actions.connection_prolongate(connection=resource, days=actions.PLAN_DAYS, actor=actor)
    refusal = align_refusal(resource)
    if refusal:
        raise ValueError(refusal)
    phone = resource.parent
    if phone.expires_at < resource.paid_through:
        periods = math.ceil((resource.paid_through - phone.expires_at) / PLAN_PERIOD)
        actions.connection_prolongate(connection=phone, days=periods * actions.PLAN_DAYS, actor=actor)
    if resource.expires_at is not None and resource.expires_at < resource.paid_through:
        actions.access_update(access=resource, expires_at=resource.paid_through, actor=actor)
    return Resource.objects.get(pk=resource.pk)
