"""Selling a port on one of our phones: choosing the phone, opening the proxy access, finding it again, renewing it.

A product fixes where (country and city, or anywhere), the protocol and how many days a purchase gives and a
renewal adds. We place a bought port on a phone of the product's account that is online, has a free port
(staff set how many we sell per phone: `PhoneCapacity`) and whose iProxy plan runs past the paid period, so a
customer never holds a port on a phone we have stopped paying for. When none qualifies nothing is charged
(`refusal`, asked before the charge) and staff are alerted to prolong a plan or add phones.

`prepare` decides the phone and writes that choice on the order under a lock on the account's phones, so two
orders placed at once never take the last free port twice; reconciliation finds a lost access by the
description each order gives it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing.models import Order, OrderKind, OrderState
from integrations.iproxy import client as iproxy
from integrations.iproxy import rules
from integrations.iproxy.kinds import IPROXY_CONNECTION
from integrations.iproxy.mirror import iproxy_access_row
from integrations.iproxy.models import PhoneCapacity
from inventory.alerts import alert_staff_out_of_stock
from inventory.mirror import Row
from inventory.models import Resource, ResourceStatus
from providers.http import errors
from providers.http.parsing import parse_rfc3339
from providers.registry import client_for_account

DEFAULT_DAYS = 30
MAX_DAYS = 365
# Orders whose port may still be opened (or was, unseen yet): each holds a port on its phone.
IN_FLIGHT = (OrderState.PENDING, OrderState.SUBMITTED, OrderState.UNKNOWN)


def product_days(product) -> int:
    return int(product.parameters.get("days") or DEFAULT_DAYS)


def product_place(product) -> tuple[str, str]:
    """(country, city) the product sells in, lower case; empty strings mean anywhere."""
    return (
        str(product.parameters.get("country") or "").lower(),
        str(product.parameters.get("city") or "").lower(),
    )


def product_listen_service(product) -> str:
    return str(product.parameters.get("listen_service") or rules.LISTEN_SERVICES[0])


def order_tag(order: Order) -> str:
    """The description the order's access carries upstream: what reconciliation finds it by."""
    return f"reseller order {order.pk}"


# Choosing a phone ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    phone: Resource
    free: int
    plan_until: dt.datetime | None


def _in_place(phone: Resource, country: str, city: str) -> bool:
    details = phone.details
    if details is None:
        return False
    geo = details.basic_info.server_geo
    return (not country or geo.country.lower() == country) and (not city or geo.city.lower() == city)


def _candidates(product, *, exclude_order: int | None = None) -> list[Candidate]:
    """Online phones of the product's account in its place, with the ports we still sell on each."""
    country, city = product_place(product)
    phones = Resource.objects.filter(
        account=product.account, kind=IPROXY_CONNECTION, status=ResourceStatus.ACTIVE, vanished_at__isnull=True
    )
    limits = dict(PhoneCapacity.objects.filter(connection__in=phones).values_list("connection_id", "max_ports"))
    reserved: dict[str, int] = {}
    in_flight = Order.objects.filter(product__account=product.account, kind=OrderKind.PURCHASE, state__in=IN_FLIGHT)
    for request in in_flight.exclude(pk=exclude_order).values_list("request", flat=True):
        connection = (request or {}).get("connection")
        if connection:
            reserved[connection] = reserved.get(connection, 0) + 1
    found = []
    for phone in phones.order_by("pk"):
        limit = limits.get(phone.pk, 0)
        if not limit or not _in_place(phone, country, city):
            continue
        used = phone.children.filter(vanished_at__isnull=True).count() + reserved.get(phone.upstream_id, 0)
        found.append(Candidate(phone=phone, free=limit - used, plan_until=phone.expires_at))
    return found


def _shortage(product, candidates: list[Candidate], until: dt.datetime) -> str:
    """Why no phone can take this order ("" when one can)."""
    with_ports = [c for c in candidates if c.free > 0]
    if not with_ports:
        return "no free port"
    if not any(c.plan_until is not None and c.plan_until >= until for c in with_ports):
        return "no phone whose plan covers the paid period"
    return ""


def _alert(product, reason: str, until: dt.datetime) -> None:
    country, city = product_place(product)
    where = "/".join(part.upper() for part in (country, city) if part) or "any location"
    alert_staff_out_of_stock(
        account=product.account,
        subject=f"product:{product.pk}",
        message=(
            f"“{product.name}” cannot be sold: {reason} in {where} on {product.account.name} "
            f"(a port for {product_days(product)} days must end by {until:%Y-%m-%d %H:%M} UTC). "
            "Prolong a phone's plan, raise a phone's port capacity, or add a phone."
        ),
    )


SHORTAGE_MESSAGE = (
    "Sorry, there is no free port for this product right now, so nothing was charged. "
    "Our team has been told; please try again later."
)


def refusal(product, now: dt.datetime) -> str:
    """Why this product cannot be bought now ("" when it can); staff are alerted when it cannot."""
    until = now + dt.timedelta(days=product_days(product))
    reason = _shortage(product, _candidates(product), until)
    if reason:
        _alert(product, reason, until)
        return SHORTAGE_MESSAGE
    return ""


def renewal_refusal(access: Resource, product, now: dt.datetime) -> str:
    """Why this access cannot be renewed with `product` now: its phone's plan must cover the new expiry."""
    phone = access.parent
    if phone is None:
        return "This proxy is not linked to its phone yet; please try again in a few minutes."
    until = renewed_until(access, product, now)
    if phone.expires_at is None or phone.expires_at < until:
        _alert(product, f"the plan of phone {phone.label} ends before {until:%Y-%m-%d}", until)
        return (
            "This proxy cannot be renewed for that long right now, so nothing was charged. "
            "Our team has been told; please try again later."
        )
    return ""


def renewed_until(access: Resource, product, now: dt.datetime) -> dt.datetime:
    """A renewal adds the product's days to the later of now and the current expiry."""
    base = max(now, access.expires_at) if access.expires_at is not None else now
    return base + dt.timedelta(days=product_days(product))


# The fulfilment interface ---------------------------------------------------------------------------------


def _sold_out(message: str) -> errors.SoldOutError:
    return errors.SoldOutError(message, provider=iproxy.PROVIDER, operation="place a port")


def prepare(order: Order) -> dict[str, Any]:
    product, now = order.product, timezone.now()
    if order.kind == OrderKind.RENEWAL:
        access = order.resource
        until = renewed_until(access, product, now)
        if access.parent is None or access.parent.expires_at is None or access.parent.expires_at < until:
            _alert(product, "the phone's plan ends before the renewed period", until)
            raise _sold_out("the phone's plan does not cover the renewed period")
        return {
            "connection": access.parent.upstream_id,
            "access": access.upstream_id,
            "expires_at": until.isoformat(),
        }
    until = now + dt.timedelta(days=product_days(product))
    with transaction.atomic():
        # One placement at a time per account: the chosen port is written on the order before the lock ends.
        list(PhoneCapacity.objects.select_for_update(of=("self",)).filter(connection__account=product.account))
        candidates = _candidates(product, exclude_order=order.pk)
        fitting = [c for c in candidates if c.free > 0 and c.plan_until is not None and c.plan_until >= until]
        if not fitting:
            _alert(product, _shortage(product, candidates, until) or "no phone", until)
            raise _sold_out("no phone with a free port whose plan covers the paid period")
        # The emptiest phone first, then the one paid for longest: ports spread out and outlive renewals.
        chosen = max(fitting, key=lambda c: (c.free, c.plan_until))
        request = {
            "connection": chosen.phone.upstream_id,
            "listen_service": product_listen_service(product),
            "description": order_tag(order),
            "expires_at": until.isoformat(),
        }
        Order.objects.filter(pk=order.pk).update(request=request)
    return request


def submit(order: Order) -> list[Row]:
    request, client, now = order.request, _client(order), timezone.now()
    expires_at = parse_rfc3339(request["expires_at"])
    if order.kind == OrderKind.RENEWAL:
        access = client.update_proxy_access(request["connection"], request["access"], expires_at=expires_at)
    else:
        # No login or password sent: iProxy generates them, and we never hold them outside the mirror.
        access = client.create_proxy_access(
            request["connection"],
            listen_service=request["listen_service"],
            auth_type="userpass",
            description=request["description"],
            expires_at=expires_at,
        )
    return [iproxy_access_row(access, _phone_status(order, request["connection"]), now)]


def find(order: Order) -> list[Row] | None:
    request, client, now = order.request, _client(order), timezone.now()
    accesses = client.list_proxy_accesses(request["connection"])
    status = _phone_status(order, request["connection"])
    if order.kind == OrderKind.RENEWAL:
        target = parse_rfc3339(request["expires_at"])
        access = next((a for a in accesses if a.id == request["access"]), None)
        # Only a renewal moves the expiry this far: reaching the target means it happened.
        if access is None or access.expires_at is None or access.expires_at < target:
            return None
        return [iproxy_access_row(access, status, now)]
    # The description names this order alone: at most one access carries it.
    mine = next((a for a in accesses if a.description == request["description"]), None)
    return [iproxy_access_row(mine, status, now)] if mine is not None else None


def _phone_status(order: Order, connection_id: str) -> str | None:
    phone = Resource.objects.filter(
        account=order.product.account, kind=IPROXY_CONNECTION, upstream_id=connection_id
    ).first()
    return phone.status if phone is not None else None


def _client(order: Order) -> iproxy.Client:
    return client_for_account(order.product.account)
