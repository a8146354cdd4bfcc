"""Selling residential GB and ISP proxies: what to send for a purchase or a renewal, sending it, and finding it again.

`prepare` decides what will be sent (a generated username, the new limits of a renewal, an ISP token's
parameters) so the order stores it before anything leaves; reconciliation matches on it later.

ISP tokens have no documented extension call: an ISP product is sold for its fixed period and never
renewed (a replacement is bought instead). An ISP create takes no name of ours, so a lost one is found
by its parameters and creation time; when that cannot tell two orders apart, the money stays held.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
import string
from typing import Any

from django.db.models import Q
from django.utils import timezone

from billing.models import Order, OrderKind, OrderState
from integrations.unknownproxies import client as unknownproxies
from integrations.unknownproxies import rules
from integrations.unknownproxies.kinds import ISP_PROXIES, ISP_TOKEN
from integrations.unknownproxies.mirror import isp_token_row, resi_token_row
from inventory.mirror import Row
from inventory.models import Resource
from ops.units import GB
from providers.http import errors
from providers.registry import client_for_account

USERNAME_ALPHABET = string.ascii_letters + string.digits
# How far the provider's clock may be from ours when telling "created after we submitted" apart.
CLOCK_SKEW = dt.timedelta(minutes=5)
# An ISP product's parameters (Product.parameters) -> the product form's field names.
ISP_FIELDS = {
    "region": "isp_region",
    "product": "isp_product",
    "quantity": "isp_quantity",
    "proxy_type": "isp_proxy_type",
    "auth_type": "isp_auth_type",
    "duration_hours": "duration_hours",
}
# The create body's API names, for matching a token upstream against what an order sent.
ISP_API_NAMES = {
    "region": "region",
    "product": "product",
    "quantity": "quantity",
    "proxy_type": "proxyType",
    "auth_type": "authType",
    "duration_hours": "durationHours",
}


def product_gb(product) -> int:
    return int(product.parameters.get("gb", 0))


def product_hours(product) -> int:
    """Hours of validity a purchase gives and a renewal adds (0: no time limit)."""
    return int(product.parameters.get("duration_hours", 0))


def generate_resi_username() -> str:
    """8 letters and digits (the create rule): the handle reconciliation finds a lost token by."""
    return "".join(secrets.choice(USERNAME_ALPHABET) for _ in range(rules.RESI_USERNAME_LENGTH))


def isp_parameters(data: dict) -> tuple[dict, dict[str, str]]:
    """An ISP product's parameters from the product form, checked with the create rules (and a period)."""
    parameters = {name: data.get(field) for name, field in ISP_FIELDS.items()}
    body = {ISP_API_NAMES[name]: value for name, value in parameters.items()}
    problems = {
        ISP_FIELDS[name]: f"ISP {name.replace('_', ' ')} {v.message}."
        for v in rules.create_isp_token(body)
        for name in [_python_name(v.field)]
    }
    if not problems.get("duration_hours") and not parameters["duration_hours"]:
        problems["duration_hours"] = "ISP: give the period the proxies are sold for (hours, more than 0)."
    return parameters, problems


def _python_name(api_name: str) -> str:
    return next(name for name, api in ISP_API_NAMES.items() if api == api_name)


def prepare(order: Order) -> dict[str, Any]:
    product = order.product
    if product.kind == ISP_PROXIES:
        if order.kind != OrderKind.PURCHASE:
            raise errors.ConflictError(
                "ISP tokens cannot be extended: buy a replacement", provider=unknownproxies.PROVIDER, operation="renew"
            )
        return {name: product.parameters[name] for name in ISP_FIELDS}
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
    if order.product.kind == ISP_PROXIES:
        token = client.create_isp_token(
            request["region"],
            request["product"],
            request["quantity"],
            request["proxy_type"],
            request["auth_type"],
            request["duration_hours"],
        )
        return [isp_token_row(token, now)]
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
    if order.product.kind == ISP_PROXIES:
        return _find_isp(order, client, now)
    if order.kind == OrderKind.PURCHASE:
        token = next((t for t in client.list_resi_tokens() if t.username == request["username"]), None)
        return None if token is None else [resi_token_row(token, now)]
    token = client.get_resi_token(order.resource.upstream_id)
    # Limits never decrease, and only a renewal raises them: reaching the target means it happened.
    return [resi_token_row(token, now)] if token.data_limit >= request["data_limit"] else None


def _find_isp(order: Order, client: unknownproxies.Client, now: dt.datetime) -> list[Row] | None:
    """The ISP token a lost create made: same parameters, created after the submission, owned by no one.

    "Owned" means another order names it, or our mirror saw it before the submission or gave it away.
    Two candidates, or one while another unsettled order sent the same parameters, cannot be told apart:
    that raises (the money stays held) instead of guessing.
    """
    request = order.request
    since = order.submitted_at - CLOCK_SKEW
    wanted = {ISP_API_NAMES[name]: request[name] for name in ISP_FIELDS}
    candidates = [
        token
        for token in client.list_isp_tokens()
        if token.created_at >= since and all(token.raw.get(key) == value for key, value in wanted.items())
    ]
    account = order.product.account
    owned = set(
        Resource.objects.filter(account=account, kind=ISP_TOKEN, upstream_id__in=[t.token for t in candidates])
        .filter(Q(customer__isnull=False) | Q(first_seen_at__lt=order.submitted_at))
        .values_list("upstream_id", flat=True)
    )
    others = Order.objects.filter(product__account=account, product__kind=ISP_PROXIES).exclude(pk=order.pk)
    claimed = {ref for ref in others.exclude(upstream_ref="").values_list("upstream_ref", flat=True)}
    free = [token for token in candidates if token.token not in owned and token.token not in claimed]
    if not free:
        return None
    in_flight = others.filter(state__in=[OrderState.SUBMITTED, OrderState.UNKNOWN], submitted_at__gte=since)
    rivals = any(other.request == request for other in in_flight.only("request"))
    if len(free) > 1 or rivals:
        raise errors.ConflictError(
            f"{len(free)} new ISP tokens match this order and {'another' if rivals else 'no other'} order in flight "
            "sent the same: staff must decide which is whose",
            provider=unknownproxies.PROVIDER,
            operation="find",
        )
    return [isp_token_row(free[0], now)]


def _client(order: Order) -> unknownproxies.Client:
    return client_for_account(order.product.account)
