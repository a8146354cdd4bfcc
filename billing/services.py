"""Money and orders: the ledger, charging under a row lock, placing and renewing orders, reconciliation.

The one place where upstream calls (through `billing.fulfilment`), ledger writes and audit meet.
Rules held here:

- a balance is the sum of the customer's ledger entries, never a stored figure: each entry is written
  once with the running sum after it (`balance_after_cents`, under the customer lock), and the balance
  is the last entry's; the database refuses a negative one and a second entry with the same number;
- a charge locks the Customer row (`select_for_update()` inside `atomic()`), reads the balance under
  the lock and refuses when short, so concurrent charges can never take it below zero; on PostgreSQL
  the same steps and the audit row are one statement (`billing_ledger_append`, see `_append`);
- an order is charged in the web request's transaction that creates it; once that has committed, the
  `billing.fulfil_order` task is queued and a worker makes the upstream call (`order_fulfil`) and
  writes its outcome: fulfilled, failed + refunded, or unknown (money held) until `order_reconcile`
  settles it; a re-run of the task never sends twice;
- reconciliation settles an order on what it finds upstream only when nothing else could have left it
  (`billing.lanes`, unique `ResourceClaim`s); otherwise the money stays held and staff decide;
- the same idempotency key gives back the same order and never a second charge.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from collections.abc import Callable

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import Customer, User
from billing import coupons, fulfilment, lanes
from billing.models import (
    OUTSIDE_CREDIT_KINDS,
    OUTSIDE_DEBIT_KINDS,
    LedgerEntry,
    LedgerEntryKind,
    Order,
    OrderKind,
    OrderState,
    OrderTrigger,
    Product,
    ResourceClaim,
    SpendingCap,
    format_money,
)
from billing.selectors import automatic_spend_this_month, open_renewal_exists, renewal_product_for
from inventory.assignment import resource_assign
from inventory.mirror import Row, mirror_row
from inventory.models import Resource, ResourceStatus
from notifications.services import notify
from ops import audit
from providers import crypto, registry
from providers.http import errors
from providers.models import ProviderAccount

logger = logging.getLogger(__name__)

# A `pending` or `submitted` order older than this is no longer in flight (every upstream call times out
# well within it: 5 s connect + 30 s read, GET retries included): its worker died, and reconciliation
# settles it like an `unknown` one.
STALE_AFTER = dt.timedelta(minutes=10)

PRODUCT_FIELDS = (
    "name",
    "description",
    "kind",
    "account",
    "parameters",
    "price_cents",
    "renewal_price_cents",
    "cost_cents",
    "renewal_cost_cents",
    "active",
)


class BillingError(Exception):
    """A billing rule refused the request; the message is fit to show the customer or staff member."""


LaneBusy = lanes.LaneBusy


class InsufficientFunds(BillingError):
    pass


class CustomerSuspended(BillingError):
    pass


class NotForSale(BillingError):
    pass


class NotRenewable(BillingError):
    pass


class PriceChanged(BillingError):
    """The price moved between the page the customer saw and the click: nothing is charged."""


class IdempotencyKeyReused(BillingError):
    pass


class BelowCost(BillingError):
    """A price below what the product costs us upstream, saved without the owner's confirmation."""


class CouponNotAccepted(BillingError):
    """The coupon is expired, used up or unknown: nothing is charged."""


class SpendingCapReached(BillingError):
    """An automatic order would pass the customer's monthly cap: nothing is charged."""


# What the customer is told about a settled order, by `Order.error_code`.
CUSTOMER_MESSAGES = {
    "sold_out": "This product is sold out at the moment. Your payment was refunded.",
    "coupon_rejected": "The coupon was refused, so nothing was bought. Your payment was refunded.",
    "upstream_balance": (
        "We could not fulfil this order right now. Your payment was refunded and our team has been told."
    ),
    "refused": "The provider refused this order. Your payment was refunded.",
    "unavailable": "The provider could not be reached. Nothing was bought and your payment was refunded.",
    "not_found_upstream": "The provider has no record of this order. Your payment was refunded.",
    "refunded_by_staff": "We could not confirm this order with the provider, so your payment was refunded.",
    "not_submitted": "This order could not be sent to the provider. Nothing was bought and your payment was refunded.",
    "unknown": "We're confirming this order with the provider; your money is held, not lost.",
}


# Balance and ledger ---------------------------------------------------------------------------------


def customer_balance(*, customer: Customer) -> int:
    """The customer's balance in minor units: the running balance of its last ledger entry (0 without any).

    Each entry stores the sum of every amount up to it (`balance_after_cents`, written once under the
    customer lock), so this is one index read however long the history is.
    """
    return _latest(customer)[1]


def _latest(customer: Customer) -> tuple[int, int]:
    """(sequence, balance) after the customer's last entry; (0, 0) before the first."""
    last = (
        LedgerEntry.objects.filter(customer_id=customer.pk)
        .order_by("-sequence")
        .values_list("sequence", "balance_after_cents")
        .first()
    )
    return last or (0, 0)


def _lock_customer(customer: Customer) -> Customer:
    """The customer row, locked until the transaction ends: every balance change for it queues here."""
    return Customer.objects.select_for_update().get(pk=customer.pk)


def _append(
    *,
    customer: Customer,
    amount_cents: int,
    kind: str,
    actor: User | None,
    note: str = "",
    order: Order | None = None,
    reference: str = "",
    refuse: Callable[[int], BillingError] | None = None,
) -> LedgerEntry:
    """Append one entry to the customer's chain under the customer's lock, with its audit row.

    With `refuse`, the entry may not take the balance below zero: `refuse(balance)` is raised instead, and
    nothing is written. The lock is taken here (again, harmlessly, when the caller holds it already).
    """
    audit_data = {"amount_cents": amount_cents, "order": order.pk if order else None, "note": note}
    if reference:
        audit_data["reference"] = reference
    append = _append_in_one_statement if connection.vendor == "postgresql" else _append_in_python
    return append(
        customer=customer,
        amount_cents=amount_cents,
        kind=kind,
        actor=actor,
        note=note,
        order=order,
        reference=reference,
        refuse=refuse,
        audit_data=audit_data,
    )


def _append_in_python(
    *,
    customer: Customer,
    amount_cents: int,
    kind: str,
    actor: User | None,
    note: str,
    order: Order | None,
    reference: str,
    refuse: Callable[[int], BillingError] | None,
    audit_data: dict,
) -> LedgerEntry:
    """`_append` on SQLite (and any database without the function): the same steps, one query each."""
    with transaction.atomic():
        locked = _lock_customer(customer)
        # A new statement after the lock is granted: it sees the entry the previous holder committed.
        sequence, balance = _latest(locked)
        if refuse is not None and balance + amount_cents < 0:
            raise refuse(balance)
        entry = LedgerEntry.objects.create(
            customer=locked,
            amount_cents=amount_cents,
            sequence=sequence + 1,
            balance_after_cents=balance + amount_cents,
            kind=kind,
            order=order,
            note=note[:300],
            reference=reference,
            actor=actor if getattr(actor, "pk", None) else None,
        )
        audit.record(
            action=f"billing.ledger.{kind}",
            actor=actor,
            target=entry,
            customer=locked,
            data={**audit_data, "balance_cents": entry.balance_after_cents},
        )
        return entry


def _append_in_one_statement(
    *,
    customer: Customer,
    amount_cents: int,
    kind: str,
    actor: User | None,
    note: str,
    order: Order | None,
    reference: str,
    refuse: Callable[[int], BillingError] | None,
    audit_data: dict,
) -> LedgerEntry:
    """`_append` on PostgreSQL: `billing_ledger_append` (migration 0008) locks, checks, appends and audits.

    Outside a transaction the statement is its own one, so the customer's lock is held only inside the
    database, never across a round trip: charges on one hot balance follow each other that much faster.
    Inside a caller's transaction a savepoint keeps a refused insert (a second charge for an order) from
    breaking it, as the Python path's `atomic()` does.
    """
    now = timezone.now()
    event = audit.event_fields(
        action=f"billing.ledger.{kind}",
        actor=actor,
        target_type=LedgerEntry._meta.label_lower,
        customer=customer,
        data=audit_data,
    )
    params = [
        customer.pk,
        amount_cents,
        kind,
        order.pk if order else None,
        note[:300],
        reference,
        event["actor"].pk if event["actor"] else None,
        refuse is not None,
        now,
        event["action"],
        event["actor_label"],
        event["target_type"],
        json.dumps(event["data"]),
    ]
    savepoint = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with savepoint, connection.cursor() as cursor:
        cursor.execute(
            "SELECT entry_id, entry_sequence, balance_cents FROM billing_ledger_append("
            "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)",
            params,
        )
        entry_id, sequence, balance = cursor.fetchone()
    if entry_id is None:
        raise refuse(balance)
    entry = LedgerEntry(
        id=entry_id,
        customer=customer,
        amount_cents=amount_cents,
        sequence=sequence,
        balance_after_cents=balance,
        kind=kind,
        order=order,
        note=note[:300],
        reference=reference,
        actor=event["actor"],
        created_at=now,
    )
    entry._state.adding = False  # as loaded from the database: saving it again would be an update (refused)
    entry._state.db = connection.alias
    return entry


def balance_charge(
    *, customer: Customer, amount_cents: int, kind: str, order: Order, actor: User | None, note: str = ""
) -> LedgerEntry:
    """Take `amount_cents` (> 0) from the balance for an order; refuses with InsufficientFunds when short.

    Locks the customer row and reads the balance under the lock, so two charges racing for the
    same money are served one after the other and the second one sees what the first one left
    (on PostgreSQL all in one statement, see `_append_in_one_statement`).
    """
    if amount_cents <= 0:
        raise ValueError("a charge is a positive amount")

    def refuse(balance: int) -> BillingError:
        return InsufficientFunds(
            f"Insufficient balance: this costs {format_money(amount_cents)} and your balance is "
            f"{format_money(balance)}. Please top up first."
        )

    return _append(
        customer=customer,
        amount_cents=-amount_cents,
        kind=kind,
        order=order,
        actor=actor,
        note=note,
        refuse=refuse,
    )


def balance_top_up(*, customer: Customer, amount_cents: int, actor: User | None, note: str = "") -> LedgerEntry:
    """Credit money the customer paid us (support or owner). Only positive amounts."""
    if amount_cents <= 0:
        raise BillingError("A top-up must be a positive amount.")
    return _append(customer=customer, amount_cents=amount_cents, kind=LedgerEntryKind.TOP_UP, actor=actor, note=note)


def balance_adjust(*, customer: Customer, amount_cents: int, actor: User | None, note: str) -> LedgerEntry:
    """A correction either way, with a reason. Taking money away is for owners only and never below zero."""
    if amount_cents == 0:
        raise BillingError("An adjustment cannot be zero.")
    if not note.strip():
        raise BillingError("An adjustment needs a reason.")
    if amount_cents < 0 and not getattr(actor, "is_owner", False):
        raise BillingError("Only owners can take money from a balance.")

    def refuse(balance: int) -> BillingError:
        return InsufficientFunds(
            f"The balance is {format_money(balance)}: an adjustment of {format_money(amount_cents)} "
            "would make it negative."
        )

    return _append(
        customer=customer,
        amount_cents=amount_cents,
        kind=LedgerEntryKind.ADJUSTMENT,
        actor=actor,
        note=note,
        refuse=refuse,
    )


def balance_book_outside(
    *, customer: Customer, amount_cents: int, kind: str, reference: str, actor: User | None = None, note: str = ""
) -> tuple[LedgerEntry, bool]:
    """Book money that moved outside (an online payment, its refund or dispute) once per `reference`.

    Returns the entry and whether it is new: the same reference (a redelivered webhook) gives back the
    entry already booked and changes nothing. A debit is booked even when it takes the balance below
    zero: the money has already left (a refund or a chargeback), and the balance then shows the debt.
    """
    if kind not in (*OUTSIDE_CREDIT_KINDS, *OUTSIDE_DEBIT_KINDS):
        raise ValueError(f"{kind} is not outside money")
    if not reference:
        raise ValueError("outside money needs the reference of its outside event")
    sign = 1 if kind in OUTSIDE_CREDIT_KINDS else -1
    if amount_cents <= 0:
        raise ValueError("the amount is positive; the kind gives the sign")
    try:
        with transaction.atomic():
            locked = _lock_customer(customer)
            existing = LedgerEntry.objects.filter(reference=reference).first()
            if existing is not None:
                return existing, False
            entry = _append(
                customer=locked,
                amount_cents=sign * amount_cents,
                kind=kind,
                actor=actor,
                note=note,
                reference=reference,
            )
            return entry, True
    except IntegrityError:
        # SQLite has no row locks: the unique reference is the last guard against a racing redelivery.
        existing = LedgerEntry.objects.filter(reference=reference).first()
        if existing is None:
            raise
        return existing, False


# Catalog ----------------------------------------------------------------------------------------------


def _check_product(fields: dict) -> None:
    account: ProviderAccount = fields["account"]
    try:
        kind = registry.product_kind(fields["kind"])
    except registry.UnknownKind:
        raise BillingError(f"Unknown product kind {fields['kind']!r}.") from None
    integration = registry.for_product_kind(kind.value)
    # A free product would be an order without a charge, and upstream still bills us for it.
    if fields.get("price_cents", 1) <= 0 or fields.get("renewal_price_cents", 1) <= 0:
        raise BillingError("Prices must be more than zero.")
    if account.kind != integration.kind:
        raise BillingError(f"A {kind.label} product needs a {integration.kind} provider account.")


def _check_margin(product: Product, *, actor: User | None, confirm_below_cost: bool) -> None:
    """A price below our upstream cost is saved only when an owner confirms it."""
    if not product.below_cost:
        return
    if not (confirm_below_cost and getattr(actor, "is_owner", False)):
        raise BelowCost(
            f"{product.name} would sell below what it costs us (price {product.price} / renewal "
            f"{product.renewal_price}, cost {product.cost} / renewal {product.renewal_cost}). "
            "An owner must confirm selling below cost."
        )


@transaction.atomic
def product_create(*, actor: User | None, confirm_below_cost: bool = False, **fields) -> Product:
    """Add a product to the catalog (owners); a price below cost needs `confirm_below_cost` by an owner."""
    data = {key: fields[key] for key in PRODUCT_FIELDS if key in fields}
    _check_product(data)
    product = Product(**data)
    _check_margin(product, actor=actor, confirm_below_cost=confirm_below_cost)
    product.full_clean()
    product.save()
    audit.record(action="billing.product.create", actor=actor, target=product, data=_product_audit(product))
    return product


@transaction.atomic
def product_update(*, product: Product, actor: User | None, confirm_below_cost: bool = False, **changes) -> Product:
    """Change a product (owners); orders already placed keep the price they were charged and their cost."""
    locked = Product.objects.select_for_update().get(pk=product.pk)
    for key in PRODUCT_FIELDS:
        if key in changes:
            setattr(locked, key, changes[key])
    _check_product(
        {
            "kind": locked.kind,
            "account": locked.account,
            "price_cents": locked.price_cents,
            "renewal_price_cents": locked.renewal_price_cents,
        }
    )
    _check_margin(locked, actor=actor, confirm_below_cost=confirm_below_cost)
    locked.full_clean()
    locked.save()
    audit.record(action="billing.product.update", actor=actor, target=locked, data=_product_audit(locked))
    return locked


def product_cost_from_upstream(*, product: Product, actor: User | None, only_if_changed: bool = False) -> Product:
    """Set the product's costs from the provider's own price list, where its API gives one.

    Raises BillingError when the provider gives no price for this product, ProviderError when it
    cannot be read. Prices are not touched: a product now below cost is flagged in the catalog.
    `only_if_changed` (the scheduled refresh) writes and audits nothing when the costs are the same.
    """
    integration = registry.for_product_kind(product.kind)
    costs = integration.product_upstream_cost(product, registry.client_for_account(product.account))
    if costs is None:
        raise BillingError(f"The provider of {product.name} gives no price for it: enter its cost by hand.")
    with transaction.atomic():
        locked = Product.objects.select_for_update().get(pk=product.pk)
        if only_if_changed and (locked.cost_cents, locked.renewal_cost_cents) == tuple(costs):
            return locked
        locked.cost_cents, locked.renewal_cost_cents = costs
        locked.save(update_fields=["cost_cents", "renewal_cost_cents", "updated_at"])
        audit.record(
            action="billing.product.cost_from_upstream", actor=actor, target=locked, data=_product_audit(locked)
        )
    return locked


def _product_audit(product: Product) -> dict:
    return {
        "name": product.name,
        "kind": product.kind,
        "account": product.account_id,
        "parameters": product.parameters,
        "price_cents": product.price_cents,
        "renewal_price_cents": product.renewal_price_cents,
        "cost_cents": product.cost_cents,
        "renewal_cost_cents": product.renewal_cost_cents,
        "active": product.active,
    }


# Orders -----------------------------------------------------------------------------------------------


def order_place(
    *,
    customer: Customer,
    product: Product,
    idempotency_key: str,
    actor: User | None,
    expected_price_cents: int | None = None,
    coupon_code: str = "",
) -> Order:
    """Buy `product` for `customer` from its balance at our price; the same key returns the same order.

    `coupon_code` (optional) takes the coupon's discount off; `expected_price_cents` is then the discounted price.

    Raises BillingError subclasses (nothing charged) for a suspended customer, a product not on sale
    or a short balance. The charge commits here; the upstream call runs in the `billing.fulfil_order`
    task (see the module doc), so the order returned is usually still `pending`.
    """
    existing = _order_for_key(idempotency_key, customer, product=product, kind=OrderKind.PURCHASE, resource=None)
    if existing is not None:
        return existing
    if not product.active:
        raise NotForSale("This product is no longer for sale.")
    refusal = registry.for_product_kind(product.kind).purchasable(product, timezone.now())
    if refusal:
        raise NotForSale(refusal)
    return _open_and_queue(
        customer=customer,
        product=product,
        kind=OrderKind.PURCHASE,
        resource=None,
        idempotency_key=idempotency_key,
        actor=actor,
        expected_price_cents=expected_price_cents,
        coupon_code=coupon_code,
    )


def order_renew(
    *,
    customer: Customer,
    resource: Resource,
    idempotency_key: str,
    actor: User | None,
    expected_price_cents: int | None = None,
    product: Product | None = None,
    trigger: str = OrderTrigger.MANUAL,
) -> Order:
    """Renew a resource the customer bought here, at its product's renewal price; idempotent like a purchase.

    `product` adds another pack of the same line instead (auto top-up buys the customer's chosen GB pack);
    `trigger` says an automatic wish placed it, which the monthly spending cap limits.
    """
    bought_from = renewal_product_for(resource=resource)
    product = product or bought_from
    existing = _order_for_key(idempotency_key, customer, product=product, kind=OrderKind.RENEWAL, resource=resource)
    if existing is not None:
        return existing
    if resource.customer_id != customer.pk:
        raise NotRenewable("This proxy is not yours to renew.")
    if resource.status == ResourceStatus.VANISHED or resource.vanished_at is not None:
        raise NotRenewable("This proxy no longer exists at the provider, so it cannot be renewed.")
    refusal = resource.integration.renewable(resource, timezone.now())
    if refusal:
        raise NotRenewable(refusal)
    if bought_from is None or product.account_id != resource.account_id or product.kind != bought_from.kind:
        raise NotRenewable("This proxy was not bought in our shop, so it cannot be renewed here. Please contact us.")
    if open_renewal_exists(resource=resource):
        raise NotRenewable("A renewal of this proxy is already being processed.")
    return _open_and_queue(
        customer=customer,
        product=product,
        kind=OrderKind.RENEWAL,
        resource=resource,
        idempotency_key=idempotency_key,
        actor=actor,
        expected_price_cents=expected_price_cents,
        trigger=trigger,
    )


def _order_for_key(
    idempotency_key: str, customer: Customer, *, product: Product | None, kind: str, resource: Resource | None
) -> Order | None:
    """The order already placed with this key, when it is the same request; refuses a key reused for another."""
    if not idempotency_key:
        raise BillingError("Missing idempotency key.")
    order = Order.objects.filter(idempotency_key=idempotency_key).first()
    if order is None:
        return None
    same = (
        order.customer_id == customer.pk
        and order.kind == kind
        and order.product_id == getattr(product, "pk", None)
        and (kind != OrderKind.RENEWAL or order.resource_id == getattr(resource, "pk", None))
    )
    if not same:
        raise IdempotencyKeyReused("This request key belongs to another order. Please reload the page.")
    return order


def _price_cents(product: Product, kind: str) -> int:
    """What the customer pays now for this product (read under the lock, not from the caller's copy)."""
    return product.price_cents if kind == OrderKind.PURCHASE else product.renewal_price_cents


def _check_spending_cap(customer: Customer, price_cents: int, *, trigger: str) -> None:
    """Automatic orders stop at the customer's monthly cap (orders placed by hand are never capped).

    Called under the customer lock, so two automatic orders cannot both fit in the last room under it.
    """
    if trigger == OrderTrigger.MANUAL:
        return
    cap = SpendingCap.objects.filter(customer=customer).values_list("monthly_cap_cents", flat=True).first()
    if cap is None:
        return
    spent = automatic_spend_this_month(customer=customer)
    if spent + price_cents > cap:
        raise SpendingCapReached(
            f"Your monthly limit for automatic orders is {format_money(cap)} and {format_money(spent)} is "
            f"spent this month: this {format_money(price_cents)} order was not placed."
        )


def _open_and_queue(
    *,
    customer: Customer,
    product: Product,
    kind: str,
    resource: Resource | None,
    idempotency_key: str,
    actor: User | None,
    expected_price_cents: int | None = None,
    coupon_code: str = "",
    trigger: str = OrderTrigger.MANUAL,
) -> Order:
    """Create and charge the order in one committed transaction, then queue its upstream side."""
    same_request = {"product": product, "kind": kind, "resource": resource}
    try:
        # durable: the charge must be committed before the task can run, and no caller's transaction
        # may hold the customer lock (or roll the charge back) behind it.
        with transaction.atomic(durable=True):
            locked = _lock_customer(customer)
            # Re-checked under the lock: a double-submit waits here for the first one and gets its order.
            existing = _order_for_key(idempotency_key, locked, **same_request)
            if existing is not None:
                return existing
            if not locked.is_active:
                raise CustomerSuspended("This account is suspended: it cannot place orders. Please contact support.")
            product = Product.objects.select_related("account").get(pk=product.pk)
            if kind == OrderKind.PURCHASE and not product.active:
                raise NotForSale("This product is no longer for sale.")
            if kind == OrderKind.RENEWAL and open_renewal_exists(resource=resource):
                raise NotRenewable("A renewal of this proxy is already being processed.")
            price_cents = _price_cents(product, kind)
            if price_cents <= 0:
                # An order without a charge, while upstream still bills us: never sold.
                raise NotForSale("This product has no price yet, so it cannot be bought. Please contact us.")
            # Margins and coupons: the cost now, and the coupon (row locked until commit) with its discount.
            try:
                coupon, discount_cents = coupons.coupon_for_order(
                    code=coupon_code, customer=locked, price_cents=price_cents
                )
            except coupons.CouponRefused as exc:
                raise CouponNotAccepted(f"{exc} Nothing was charged.") from exc
            price_cents -= discount_cents
            if expected_price_cents is not None and expected_price_cents != price_cents:
                raise PriceChanged(
                    f"The price of {product.name} is now {format_money(price_cents)} (you saw "
                    f"{format_money(expected_price_cents)}). Nothing was charged: please check and try again."
                )
            _check_spending_cap(locked, price_cents, trigger=trigger)
            order = Order.objects.create(
                customer=locked,
                product=product,
                kind=kind,
                trigger=trigger,
                resource=resource,
                price_cents=price_cents,
                cost_cents=product.cost_for(kind),
                discount_cents=discount_cents,
                coupon=coupon,
                idempotency_key=idempotency_key,
                actor=actor if getattr(actor, "pk", None) else None,
            )
            if coupon is not None:
                coupons.coupon_redeem(coupon=coupon, order=order)
            if price_cents > 0:  # a coupon may take the whole price: nothing to charge
                balance_charge(
                    customer=locked,
                    amount_cents=price_cents,
                    kind=LedgerEntryKind.PURCHASE if kind == OrderKind.PURCHASE else LedgerEntryKind.RENEWAL,
                    order=order,
                    actor=actor,
                    note=f"{order.get_kind_display()}: {product.name}",
                )
            audit.record(
                action=f"billing.order.{kind}",
                actor=actor,
                target=order,
                customer=locked,
                data={
                    "product": product.pk,
                    "price_cents": price_cents,
                    "resource": resource.pk if resource else None,
                    **({"coupon": coupon.code, "discount_cents": discount_cents} if coupon else {}),
                    "trigger": trigger,
                },
            )
    except IntegrityError:
        # SQLite has no row locks: the unique key is the last guard against a racing double-submit.
        existing = _order_for_key(idempotency_key, customer, **same_request)
        if existing is None:
            raise
        return existing
    # The durable block above is the outermost transaction: leaving it committed the charge, so the task
    # is queued only for an order that exists for every worker (the on-commit rule of DESIGN.md).
    _queue_fulfilment(order)
    # Eager runs (tests, `CELERY_TASK_ALWAYS_EAGER`) have settled it already; a worker has not yet.
    return Order.objects.select_related("product", "resource").get(pk=order.pk)


def _queue_fulfilment(order: Order) -> None:
    """Queue the order's task; a broker that cannot take it now only delays it (see `orders_requeue`)."""
    from billing.tasks import fulfil_order  # the task module imports this one

    try:
        fulfil_order.delay(order.pk)
    except Exception:
        # The charge is committed and the order page says "processing": the reconcile run queues it again.
        logger.exception("order %s: could not be queued; the next reconcile run queues it again", order.pk)


def order_fulfil(*, order_id: int) -> Order:
    """The upstream side of a charged order (the `billing.fulfil_order` task); safe to run again.

    `pending`: decide what to send, send it once, settle by the answer. `submitted`: an earlier run
    died between sending and settling, so nothing is sent again; upstream is asked what happened
    (`find`) and the order is settled on what it shows, or held as `unknown` for reconciliation.
    Anything else is settled already. Raises LaneBusy while another order of its lane is in flight.
    """
    order = Order.objects.select_related("product__account", "resource", "customer", "actor").get(pk=order_id)
    if order.state == OrderState.PENDING:
        return _submit(order, order.actor)
    if order.state == OrderState.SUBMITTED:
        return _recover(order)
    return order


def _submit(order: Order, actor: User | None) -> Order:
    """Decide and store what to send, mark submitted, send it once, and settle by the answer.

    The order's lane is held from before it is marked submitted until it is settled, so no
    reconciliation of a lane-mate can take what this call buys while its answer is on the way.
    """
    try:
        request = fulfilment.prepare(order)
    except (errors.ProviderError, crypto.SecretUnreadable) as exc:
        # Nothing that costs money was sent: a definite failure.
        return _settle_failed(order, exc, actor=actor)
    with lanes.holding(order):
        with transaction.atomic(durable=True):
            locked = Order.objects.select_for_update().get(pk=order.pk)
            if locked.state != OrderState.PENDING:
                # Reconciliation settled it (refunded) while this worker was slow: it must not be sent any more.
                return locked
            locked.transition(OrderState.SUBMITTED)
            locked.request = request
            locked.submitted_at = timezone.now()
            locked.save(update_fields=["state", "request", "submitted_at", "updated_at"])
        order = Order.objects.select_related("product__account", "resource", "customer").get(pk=order.pk)
        try:
            rows = fulfilment.submit(order)
        except (errors.UnknownOutcomeError, errors.MalformedResponseError) as exc:
            return _settle_unknown(order, exc, actor=actor)
        except (errors.ProviderError, crypto.SecretUnreadable) as exc:
            return _settle_failed(order, exc, actor=actor)
        except Exception as exc:
            # A bug after the request left: the purchase may have happened. Hold the money; reconciliation decides.
            logger.exception("order %s: unexpected error after submitting", order.pk)
            return _settle_unknown(order, exc, actor=actor)
        try:
            return _settle_fulfilled(order, rows, actor=actor)
        except BillingError as exc:
            return _settle_unknown(order, exc, actor=actor)


def _recover(order: Order) -> Order:
    """An order left `submitted` by a run that died: settle it on what upstream shows, never send it again."""
    try:
        settled, _ = _reconcile(order, actor=None, now_due=True)
    except (errors.ProviderError, BillingError) as exc:
        return _settle_unknown(order, exc, actor=None)
    if settled.state == OrderState.SUBMITTED:
        return _settle_unknown(settled, BillingError("its worker stopped mid-call"), actor=None)
    return settled


def _settle_fulfilled(order: Order, rows: list[Row], *, actor: User | None, reconciled: bool = False) -> Order:
    """Mark fulfilled, mirror what upstream gave and assign it to the customer, in one transaction."""
    now = timezone.now()
    with transaction.atomic():
        locked = Order.objects.select_for_update(of=("self",)).select_related("customer", "product").get(pk=order.pk)
        if not locked.can_transition(OrderState.FULFILLED):
            return _late_success(locked, rows, now=now, actor=actor)
        locked.transition(OrderState.FULFILLED)
        resources = [_claim(locked, mirror_row(locked.product.account, row, now=now), actor=actor) for row in rows]
        return _fulfilled(locked, resources, actor=actor, reconciled=reconciled, now=now)


def _fulfilled(order: Order, resources: list[Resource], *, actor: User | None, reconciled: bool, now) -> Order:
    """Record a fulfilled order (locked, state set) with the resources it claimed."""
    if resources and order.resource_id is None:
        order.resource = resources[0]
    if resources:
        order.upstream_ref = ",".join(resource.upstream_id for resource in resources)[:500]
        # The customer has now paid through the end upstream gave the resource for this order: what
        # `billing.foresight` compares with when upstream will stop serving it.
        Resource.objects.filter(pk__in=[resource.pk for resource in resources]).update(paid_through=F("expires_at"))
    order.error, order.error_code = "", ""
    if reconciled:
        order.reconciled_at = now
    order.save()
    audit.record(
        action="billing.order.reconciled_fulfilled" if reconciled else "billing.order.fulfilled",
        actor=actor,
        target=order,
        customer=order.customer,
        data={"resources": [resource.pk for resource in resources], "price_cents": order.price_cents},
    )
    _notify_settled(order)
    return order


def _claim(order: Order, resource: Resource, *, actor: User | None) -> Resource:
    """Give a purchased resource to the order's customer; a renewal's target keeps its owner.

    The resource row is locked and its `ResourceClaim` is unique, so one upstream resource settles at
    most one purchase, whoever the customers are; one claimed by another order, or belonging to
    another customer, is refused (the order stays unsettled).
    """
    locked = Resource.objects.select_for_update().get(pk=resource.pk)
    if order.kind == OrderKind.RENEWAL:
        if locked.pk != order.resource_id:
            raise BillingError(f"order {order.pk}: upstream answered {locked.upstream_id}, not the renewed resource")
        return locked
    if locked.customer_id not in (None, order.customer_id):
        raise BillingError(f"order {order.pk}: {locked.upstream_id} already belongs to another customer")
    if ResourceClaim.objects.filter(resource=locked).exclude(order=order).exists():
        raise BillingError(f"order {order.pk}: {locked.upstream_id} already settled another order")
    try:
        with transaction.atomic():
            ResourceClaim.objects.get_or_create(resource=locked, defaults={"order": order})
    except IntegrityError:
        raise BillingError(f"order {order.pk}: {locked.upstream_id} already settled another order") from None
    return resource_assign(resource=locked, customer=order.customer, actor=actor)


def _late_success(order: Order, rows: list[Row], *, now, actor: User | None) -> Order:
    """Upstream says done for an order already settled: mirror it unassigned and tell staff, never charge twice."""
    if order.state == OrderState.FULFILLED:
        return order
    resources = [mirror_row(order.product.account, row, now=now) for row in rows]
    logger.error("order %s: upstream fulfilled it after it was settled %s", order.pk, order.state)
    audit.record(
        action="billing.order.late_success",
        actor=actor,
        target=order,
        customer=order.customer,
        data={"state": order.state, "resources": [resource.pk for resource in resources]},
    )
    return order


def _settle_failed(
    order: Order, exc: Exception | None, *, actor: User | None, reconciled: bool = False, code: str = ""
) -> Order:
    """Mark failed and refund the charge, in one transaction; the error says staff what happened."""
    with transaction.atomic():
        locked = (
            Order.objects.select_for_update(of=("self",))
            .select_related("customer", "product__account")
            .get(pk=order.pk)
        )
        if not locked.can_transition(OrderState.FAILED):
            # Settled meanwhile (fulfilled or already refunded): never refund a second time.
            return locked
        locked.transition(OrderState.FAILED)
        locked.error_code = code or _error_code(exc)
        locked.error = _staff_message(locked, exc)
        if reconciled:
            locked.reconciled_at = timezone.now()
        locked.save()
        if locked.error_code == "upstream_balance":
            ProviderAccount.objects.filter(pk=locked.product.account_id).update(last_error=locked.error)
        if locked.price_cents:
            _append(
                customer=locked.customer,
                amount_cents=locked.price_cents,
                kind=LedgerEntryKind.REFUND,
                order=locked,
                actor=actor,
                note=f"Refund: {locked.product.name}",
            )
        audit.record(
            action="billing.order.reconciled_failed" if reconciled else "billing.order.failed",
            actor=actor,
            target=locked,
            customer=locked.customer,
            data={"error_code": locked.error_code, "error": locked.error, "refund_cents": locked.price_cents},
        )
        _notify_settled(locked)
    return locked


def _settle_unknown(order: Order, exc: Exception, *, actor: User | None) -> Order:
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if not locked.can_transition(OrderState.UNKNOWN):
            return locked
        locked.transition(OrderState.UNKNOWN)
        locked.error_code = "unknown"
        locked.error = f"No answer from upstream ({exc}). The money stays held until reconciliation settles it."
        locked.save()
        audit.record(
            action="billing.order.unknown",
            actor=actor,
            target=locked,
            customer=locked.customer,
            data={"error": str(exc), "held_cents": locked.price_cents},
        )
    return locked


def _settle_needs_decision(order: Order, rows: list[Row], why: str, *, actor: User | None) -> Order:
    """Hold the money and hand the order to staff with what was found (mirrored, unassigned, unclaimed)."""
    now = timezone.now()
    with transaction.atomic():
        locked = Order.objects.select_for_update(of=("self",)).select_related("customer", "product").get(pk=order.pk)
        if not locked.can_transition(OrderState.NEEDS_DECISION):
            return locked
        found = [mirror_row(locked.product.account, row, now=now) for row in rows]
        locked.transition(OrderState.NEEDS_DECISION)
        locked.error_code = "unknown"
        locked.error = f"Reconciliation cannot tell which upstream resource is this order's: {why}"
        locked.evidence = {
            "why": why,
            "found": [
                {
                    "resource": resource.pk,
                    "upstream_id": resource.upstream_id,
                    "label": resource.label,
                    "expires_at": resource.expires_at.isoformat() if resource.expires_at else None,
                }
                for resource in found
            ],
            "at": now.isoformat(),
        }
        locked.save()
        audit.record(
            action="billing.order.needs_decision",
            actor=actor,
            target=locked,
            customer=locked.customer,
            data={"why": why, "found": [resource.pk for resource in found], "held_cents": locked.price_cents},
        )
    return locked


def order_is_reconcilable(order: Order, *, now: dt.datetime | None = None) -> bool:
    """`unknown`, or `pending`/`submitted` for longer than STALE_AFTER (the worker that owned it is gone)."""
    now = now or timezone.now()
    if order.state == OrderState.UNKNOWN:
        return True
    if order.state == OrderState.PENDING:
        return order.created_at < now - STALE_AFTER
    if order.state == OrderState.SUBMITTED:
        return order.submitted_at is not None and order.submitted_at < now - STALE_AFTER
    return False


def order_reconcile(*, order: Order, actor: User | None = None) -> Order:
    """Settle an order whose outcome is not known by looking upstream (see `order_reconcile_counted`)."""
    return _reconcile(order, actor=actor)[0]


def order_reconcile_counted(*, order: Order, actor: User | None = None) -> tuple[Order, bool]:
    """Like `order_reconcile`, and whether this very call settled it (a concurrent run may have)."""
    return _reconcile(order, actor=actor)


def _reconcile(order: Order, *, actor: User | None, now_due: bool = False) -> tuple[Order, bool]:
    """Found upstream and unambiguous -> fulfilled; not found -> failed + refunded; ambiguous -> needs_decision.

    Takes `unknown` orders and stale `pending`/`submitted` ones (see `order_is_reconcilable`; `now_due`
    takes a `submitted` one at once, for a task re-run after its worker died); a `pending` one never
    sent anything, so it is refunded without asking. Upstream is read while the order's lane is held
    (nothing of the lane is in flight then) and outside any transaction; the settling then locks the
    order and re-checks its state, so concurrent reconciliations settle it once. A provider error
    leaves it as it was and is raised for the caller to retry later; so are LaneBusy and a BillingError
    when what was found belongs to someone else.
    """
    order = Order.objects.select_related("product__account", "resource", "customer").get(pk=order.pk)

    def due(current: Order) -> bool:
        return order_is_reconcilable(current) or (now_due and current.state == OrderState.SUBMITTED)

    if not due(order):
        return order, False
    if order.state == OrderState.PENDING:
        with transaction.atomic():
            locked = Order.objects.select_for_update().get(pk=order.pk)
            if locked.state != OrderState.PENDING or not due(locked):
                return locked, False
            return _settle_failed(locked, None, actor=actor, reconciled=True, code="not_submitted"), True
    with lanes.holding(order):
        rows = fulfilment.find(order)
        verdict, rows, why = _judge(order, rows)
        with transaction.atomic():
            locked = Order.objects.select_for_update().get(pk=order.pk)
            # Re-checked under the lock: settled meanwhile by another run or a slow worker.
            if not due(locked) or locked.state not in (OrderState.UNKNOWN, OrderState.SUBMITTED):
                return locked, False
            if verdict == "none" and now_due:
                # Right after a crash upstream may not show the call yet: hold, and let reconciliation look again.
                return _settle_unknown(locked, BillingError("no trace upstream yet after a crash"), actor=actor), True
            if verdict == "none":
                return _settle_failed(locked, None, actor=actor, reconciled=True, code="not_found_upstream"), True
            if verdict == "ambiguous":
                if locked.state == OrderState.SUBMITTED:
                    locked = _settle_unknown(locked, BillingError(why), actor=actor)
                return _settle_needs_decision(locked, rows, why, actor=actor), True
            return _settle_fulfilled(locked, rows, actor=actor, reconciled=True), True


def _judge(order: Order, rows: list[Row] | None) -> tuple[str, list[Row], str]:
    """What the rows `find` gave prove: ("claim", rows, ""), ("none", [], "") or ("ambiguous", rows, why).

    A renewal's rows are about its own target. A purchase's rows are candidates: those another order
    has claimed or another customer holds are not this order's; what is left settles the order only
    when it is exactly the quantity bought and no other unsettled order of the lane could claim any
    of it (their own `find` is asked). Otherwise staff decide.
    """
    if not rows:
        return "none", [], ""
    if order.kind == OrderKind.RENEWAL:
        return "claim", rows, ""
    free = _unclaimed(order, rows)
    if not free:
        return "none", [], ""
    ids = {row.upstream_id for row in free}
    rivals = [
        rival.pk
        for rival in lanes.unsettled_lane_mates(order)
        if ids & {row.upstream_id for row in (fulfilment.find(rival) or [])}
    ]
    if rivals:
        return "ambiguous", free, f"orders {', '.join(map(str, rivals))} of the same plan could have bought them too"
    if len(free) != order.quantity:
        return "ambiguous", free, f"{len(free)} candidates found for a quantity of {order.quantity}"
    return "claim", free, ""


def _unclaimed(order: Order, rows: list[Row]) -> list[Row]:
    """The rows whose resource no other order has claimed and no other customer holds."""
    taken = set(
        Resource.objects.filter(account=order.product.account, upstream_id__in=[row.upstream_id for row in rows])
        .filter(
            Q(claim__isnull=False) & ~Q(claim__order=order) | Q(customer__isnull=False) & ~Q(customer=order.customer)
        )
        .values_list("kind", "upstream_id")
    )
    return [row for row in rows if (row.kind, row.upstream_id) not in taken]


# Staff decisions ---------------------------------------------------------------------------------


def order_decide_settle(*, order: Order, resource: Resource, actor: User) -> Order:
    """Staff settle an order that needs a decision with one upstream resource they chose (audited)."""
    now = timezone.now()
    with transaction.atomic():
        locked = Order.objects.select_for_update(of=("self",)).select_related("customer", "product").get(pk=order.pk)
        if locked.state != OrderState.NEEDS_DECISION:
            raise BillingError(f"Order {locked.pk} is {locked.get_state_display().lower()}: nothing to decide.")
        if resource.account_id != locked.product.account_id:
            raise BillingError(f"{resource} is not at {locked.product.account}: it cannot settle this order.")
        locked.transition(OrderState.FULFILLED)
        claimed = _claim(locked, resource, actor=actor)
        audit.record(
            action="billing.order.decided_settle",
            actor=actor,
            target=locked,
            customer=locked.customer,
            data={"resource": claimed.pk, "evidence": locked.evidence},
        )
        return _fulfilled(locked, [claimed], actor=actor, reconciled=True, now=now)


def order_decide_refund(*, order: Order, actor: User, note: str = "") -> Order:
    """Staff refund an order that needs a decision (audited); what was found stays unassigned."""
    locked = Order.objects.get(pk=order.pk)
    if locked.state != OrderState.NEEDS_DECISION:
        raise BillingError(f"Order {locked.pk} is {locked.get_state_display().lower()}: nothing to decide.")
    audit.record(
        action="billing.order.decided_refund",
        actor=actor,
        target=locked,
        customer=locked.customer,
        data={"note": note, "evidence": locked.evidence},
    )
    return _settle_failed(locked, None, actor=actor, reconciled=True, code="refunded_by_staff")


def customer_message(order: Order) -> str:
    """What the customer is told about this order's outcome."""
    if order.state == OrderState.FULFILLED:
        return f"Done: {order.product.name} — {order.price} was charged."
    if order.state in (OrderState.PENDING, OrderState.SUBMITTED):
        return f"Processing: {order.product.name} ({order.price} charged). This page updates by itself."
    if order.state == OrderState.NEEDS_DECISION:
        return CUSTOMER_MESSAGES["unknown"]
    return CUSTOMER_MESSAGES.get(order.error_code, CUSTOMER_MESSAGES["refused"])


def _notify_settled(order: Order) -> None:
    """Tell the customer's logins (feed, chosen channels, webhooks) and staff how an order ended; sent on commit."""
    done = order.state == OrderState.FULFILLED
    topic = "renewal" if order.kind == OrderKind.RENEWAL else "order"
    notify(
        customer=order.customer,
        event=f"{topic}.{'fulfilled' if done else 'failed'}",
        subject=f"{'Renewal' if topic == 'renewal' else 'Order'} {order.pk} {'done' if done else 'failed'}: "
        f"{order.product.name}",
        body=customer_message(order),
        link=reverse("store:order-detail", args=[order.pk]),
        key=f"order:{order.pk}:{order.state}",
        data={
            "order": order.pk,
            "state": order.state,
            "price_cents": order.price_cents,
            "error_code": order.error_code,
        },
    )


# Helpers ---------------------------------------------------------------------------------------------


def _error_code(exc: Exception | None) -> str:
    if isinstance(exc, errors.SoldOutError):
        return "sold_out"
    if isinstance(exc, errors.CouponRejectedError):
        return "coupon_rejected"
    if isinstance(exc, errors.InsufficientBalanceError):
        return "upstream_balance"
    if isinstance(exc, errors.UnavailableError | errors.RateLimitedError):
        return "unavailable"
    return "refused"


def _staff_message(order: Order, exc: Exception | None) -> str:
    account = order.product.account
    if exc is None and order.error_code == "refunded_by_staff":
        return "Staff decided this order got nothing upstream: refunded."
    if exc is None and order.error_code == "not_submitted":
        return "The order was never sent upstream (its worker stopped before sending): refunded."
    if exc is None:
        return "Reconciliation found no trace of this order upstream: refunded."
    if isinstance(exc, errors.InsufficientBalanceError):
        return (
            f"Our balance at {account.name} is too low for this order ({exc}). "
            "Top up the provider account; the customer was refunded and can order again."
        )
    if isinstance(exc, crypto.SecretUnreadable):
        return f"The credentials of {account.name} cannot be decrypted: re-enter them. The customer was refunded."
    if isinstance(exc, errors.AuthenticationError):
        return f"{account.name} refused our credentials ({exc}). Check them; the customer was refunded."
    return f"Upstream refused the order ({exc}). The customer was refunded."
