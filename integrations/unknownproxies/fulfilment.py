"""Selling residential GB: what to send for a purchase or a renewal, sending it, and finding it again.

`prepare` decides what will be sent (a generated username, the new limits of a renewal) so the order
stores it before anything leaves; reconciliation matches on it later.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
import string
from typing import Any

from django.utils import timezone

from billing.models import Order, OrderKind
from integrations.unknownproxies import client as unknownproxies
from integrations.unknownproxies import rules
from integrations.unknownproxies.mirror import resi_token_row
from inventory.mirror import Row
from ops.units import GB
from providers.registry import client_for_account

USERNAME_ALPHABET = string.ascii_letters + string.digits


def product_gb(product) -> int:
    return int(product.parameters.get("gb", 0))


def product_hours(product) -> int:
    """Hours of validity a purchase gives and a renewal adds (0: no time limit)."""
    return int(product.parameters.get("duration_hours", 0))


def generate_resi_username() -> str:
    """8 letters and digits (the create rule): the handle reconciliation finds a lost token by."""
    return "".join(secrets.choice(USERNAME_ALPHABET) for _ in range(rules.RESI_USERNAME_LENGTH))


def prepare(order: Order) -> dict[str, Any]:
    product = order.product
    if order.kind == OrderKind.PURCHASE:
        request = {"username": generate_resi_username(), "data_limit": product_gb(product) * GB}
        if product_hours(product):
            request["duration_hours"] = product_hours(product)
        return request
    current = _client(order).get_resi_token(order.resource.upstream_id)
    return resi_renewal_request(current, gb=product_gb(product), hours=product_hours(product), now=timezone.now())


def resi_renewal_request(current: unknownproxies.ResiToken, *, gb: int, hours: int, now: dt.datetime) -> dict:
    """More GB on top of the current limit; a time limit extended by `hours` past the later of now and expiry.

    Expiry is `createdAt + durationHours` (README decisions), so the new durationHours is counted from
    createdAt: max(current duration, hours already elapsed) + hours. A token without a time limit
    (durationHours 0) keeps none.
    """
    # dataLimit must stay whole GB: a legacy limit with a fraction is rounded up before adding what was paid for.
    whole = -(-current.data_limit // GB) * GB
    request: dict[str, Any] = {"data_limit": whole + gb * GB, "previous_data_limit": current.data_limit}
    if hours and current.duration_hours:
        elapsed = math.ceil(max(0.0, (now - current.created_at).total_seconds()) / 3600)
        request["duration_hours"] = max(current.duration_hours, elapsed) + hours
    return request


def submit(order: Order) -> list[Row]:
    request, now, client = order.request, timezone.now(), _client(order)
    if order.kind == OrderKind.PURCHASE:
        token = client.create_resi_token(
            data_limit=request["data_limit"],
            username=request["username"],
            duration_hours=request.get("duration_hours"),
        )
    else:
        token = client.modify_resi_token(
            order.resource.upstream_id,
            data_limit=request["data_limit"],
            duration_hours=request.get("duration_hours"),
            current_data_limit=request["previous_data_limit"],
        )
    return [resi_token_row(token, now)]


def find(order: Order) -> list[Row] | None:
    request, now, client = order.request, timezone.now(), _client(order)
    if order.kind == OrderKind.PURCHASE:
        token = next((t for t in client.list_resi_tokens() if t.username == request["username"]), None)
        return None if token is None else [resi_token_row(token, now)]
    token = client.get_resi_token(order.resource.upstream_id)
    # Limits never decrease, and only a renewal raises them: reaching the target means it happened.
    return [resi_token_row(token, now)] if token.data_limit >= request["data_limit"] else None


def _client(order: Order) -> unknownproxies.Client:
    return client_for_account(order.product.account)
