"""Money: the catalog, my orders, balance and ledger, and buying and renewing through the portal's order path."""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404
from ninja import Header, Query, Router, Status

from api.auth import require_write
from api.models import IdempotentRequest
from api.problems import ApiProblem, Problem
from api.proxies import own_resource
from api.schemas import BalanceOut, BuyIn, LedgerPage, OrderOut, OrderPage, ProductOut, RenewIn, seek_page
from billing import selectors, services
from billing.models import Order, format_money

router = Router(tags=["billing"])

READ_ERRORS = {400: Problem, 401: Problem, 404: Problem, 422: Problem, 429: Problem}
WRITE_ERRORS = {**READ_ERRORS, 403: Problem, 409: Problem}

# How each billing refusal is answered (the first class that matches; BillingError last).
REFUSALS = (
    (services.CustomerSuspended, 403),
    (services.IdempotencyKeyReused, 422),
    (services.CouponNotAccepted, 422),
    (services.BillingError, 409),
)


def order_out(order: Order) -> dict:
    return {
        **{field: getattr(order, field) for field in OrderOut.model_fields if hasattr(order, field)},
        "product_name": order.product.name,
        "message": services.customer_message(order),
    }


def _answer(order: Order):
    # 200 once settled (fulfilled, or failed and refunded); 202 while the provider has not answered for sure.
    return Status(200 if order.is_settled else 202, order_out(order))


def _billing_key(customer, idempotency_key: str) -> str:
    """The order's idempotency key: the caller's, scoped to its customer (keys are unique across all orders)."""
    return "api:" + hashlib.sha256(f"{customer.pk}:{idempotency_key}".encode()).hexdigest()[:56]


def _idempotent(request, idempotency_key: str, body: dict, place) -> Order:
    """Place once per key: the same key and body return the first order; the same key with another body, a 422."""
    customer = request.auth.user.customer
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    try:
        with transaction.atomic():
            record, created = IdempotentRequest.objects.get_or_create(
                customer=customer, key=idempotency_key, defaults={"body_sha256": digest}
            )
    except IntegrityError:  # a concurrent first use of the key won the race
        record, created = IdempotentRequest.objects.get(customer=customer, key=idempotency_key), False
    if record.body_sha256 != digest:
        raise ApiProblem(422, "This Idempotency-Key was already used with another request body; use a new key.")
    try:
        order = place(_billing_key(customer, idempotency_key))
    except services.BillingError as exc:
        if created:  # nothing was placed: the caller may correct the request and send it with the same key
            record.delete()
        status = next(code for refusal, code in REFUSALS if isinstance(exc, refusal))
        raise ApiProblem(status, str(exc)) from exc
    if record.order_id != order.pk:
        record.order = order
        record.save(update_fields=["order"])
    return order


IDEMPOTENCY_KEY = Header(
    ...,
    alias="Idempotency-Key",
    min_length=1,
    max_length=200,
    description="Any unique string per order; send the same one again to retry safely.",
)


@router.get("/products", response={200: list[ProductOut], **READ_ERRORS}, summary="What is for sale")
def product_list(request):
    return list(selectors.products_on_sale())


@router.get("/orders", response={200: OrderPage, **READ_ERRORS}, summary="My orders, newest first")
def order_list(request, cursor: str = Query("", max_length=200), limit: int = Query(50, ge=1, le=200)):
    orders = selectors.orders_for_customer(customer=request.auth.user.customer)
    items, next_cursor = seek_page(orders, cursor=cursor, limit=limit, newest_first=True)
    return {"items": [order_out(order) for order in items], "next_cursor": next_cursor}


@router.get("/orders/{order_id}", response={200: OrderOut, **READ_ERRORS}, summary="One order")
def order_get(request, order_id: int):
    return order_out(get_object_or_404(selectors.orders_for_customer(customer=request.auth.user.customer), pk=order_id))


@router.post("/orders", response={200: OrderOut, 202: OrderOut, **WRITE_ERRORS}, summary="Buy a product")
def order_buy(request, body: BuyIn, idempotency_key: str = IDEMPOTENCY_KEY):
    """Buy from the balance at our price, as the portal's shop does; 202 while the order is being processed."""
    require_write(request)
    product = get_object_or_404(selectors.products_on_sale(), pk=body.product_id)
    order = _idempotent(
        request,
        idempotency_key,
        {"buy": body.model_dump()},
        lambda key: services.order_place(
            customer=request.auth.user.customer,
            product=product,
            idempotency_key=key,
            actor=request.auth.user,
            expected_price_cents=body.expected_price_cents,
            coupon_code=body.coupon.strip(),
        ),
    )
    return _answer(order)


@router.post(
    "/proxies/{resource_id}/renew", response={200: OrderOut, 202: OrderOut, **WRITE_ERRORS}, summary="Renew a proxy"
)
def order_renew(request, resource_id: int, body: RenewIn, idempotency_key: str = IDEMPOTENCY_KEY):
    """Renew (or top up) one of my proxies at its renewal price, as the portal's renew button does."""
    require_write(request)
    resource = own_resource(request, resource_id)
    order = _idempotent(
        request,
        idempotency_key,
        {"renew": resource.pk, **body.model_dump()},
        lambda key: services.order_renew(
            customer=request.auth.user.customer,
            resource=resource,
            idempotency_key=key,
            actor=request.auth.user,
            expected_price_cents=body.expected_price_cents,
        ),
    )
    return _answer(order)


@router.get("/balance", response={200: BalanceOut, **READ_ERRORS}, summary="My balance")
def balance(request):
    cents = services.customer_balance(customer=request.auth.user.customer)
    return {"balance_cents": cents, "currency": settings.CURRENCY, "balance": format_money(cents)}


@router.get("/ledger", response={200: LedgerPage, **READ_ERRORS}, summary="My ledger, newest first")
def ledger(request, cursor: str = Query("", max_length=200), limit: int = Query(50, ge=1, le=200)):
    entries = selectors.ledger_for_customer(customer=request.auth.user.customer)
    items, next_cursor = seek_page(entries, cursor=cursor, limit=limit, newest_first=True)
    return {"items": items, "next_cursor": next_cursor}
