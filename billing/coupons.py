"""Our own coupons: quoting a discount for the shop page, and redeeming it inside the order's transaction.

The coupon row is locked (`select_for_update()`) while its uses are counted and the redemption is
written, so concurrent orders cannot take a coupon past its total or per-customer limit.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from accounts.models import Customer, User
from billing.models import Coupon, CouponRedemption, Order, OrderState, format_money
from ops import audit

COUPON_FIELDS = (
    "code",
    "description",
    "kind",
    "percent_off",
    "amount_off_cents",
    "valid_from",
    "valid_until",
    "max_redemptions",
    "max_per_customer",
    "active",
)


class CouponRefused(Exception):
    """The coupon cannot be used for this order; the message is fit to show the customer."""


def normalise_code(code: str) -> str:
    return (code or "").strip().upper()


def _uses(coupon: Coupon):
    """Redemptions that count: a failed order was refunded and gives its use back."""
    return CouponRedemption.objects.filter(coupon=coupon).filter(~Q(order__state=OrderState.FAILED))


def _check(coupon: Coupon | None, code: str, customer: Customer) -> Coupon:
    if coupon is None or not coupon.active:
        raise CouponRefused(f"The coupon {code} does not exist or is no longer valid.")
    now = timezone.now()
    if coupon.valid_from and now < coupon.valid_from:
        raise CouponRefused(f"The coupon {code} is valid from {coupon.valid_from:%Y-%m-%d %H:%M} UTC.")
    if coupon.valid_until and now >= coupon.valid_until:
        raise CouponRefused(f"The coupon {code} expired on {coupon.valid_until:%Y-%m-%d %H:%M} UTC.")
    uses = _uses(coupon)
    if coupon.max_redemptions is not None and uses.count() >= coupon.max_redemptions:
        raise CouponRefused(f"The coupon {code} has been used up.")
    if coupon.max_per_customer is not None and uses.filter(customer=customer).count() >= coupon.max_per_customer:
        raise CouponRefused(f"You have already used the coupon {code} as often as it allows.")
    return coupon


def coupon_quote(*, code: str, customer: Customer) -> Coupon:
    """The coupon for `code` if this customer may use it now (no lock: for showing prices only)."""
    code = normalise_code(code)
    return _check(Coupon.objects.filter(code=code).first(), code, customer)


def coupon_for_order(*, code: str, customer: Customer, price_cents: int) -> tuple[Coupon | None, int]:
    """Inside the order's transaction: the coupon, locked, and the discount it gives on `price_cents`."""
    code = normalise_code(code)
    if not code:
        return None, 0
    coupon = _check(Coupon.objects.select_for_update().filter(code=code).first(), code, customer)
    return coupon, coupon.discount_on(price_cents)


def coupon_redeem(*, coupon: Coupon, order: Order) -> CouponRedemption:
    """Record the use, in the transaction (and under the lock) of `coupon_for_order`."""
    return CouponRedemption.objects.create(
        coupon=coupon, customer_id=order.customer_id, order=order, discount_cents=order.discount_cents
    )


def coupon_save(*, actor: User | None, coupon: Coupon | None = None, **fields) -> Coupon:
    """Create or change a coupon (owners); uses already made keep their discount."""
    coupon = coupon or Coupon()
    created = coupon.pk is None
    for key in COUPON_FIELDS:
        if key in fields:
            setattr(coupon, key, fields[key])
    coupon.code = normalise_code(coupon.code)
    coupon.full_clean()
    coupon.save()
    audit.record(
        action="billing.coupon.create" if created else "billing.coupon.update",
        actor=actor,
        target=coupon,
        data={key: str(getattr(coupon, key)) for key in COUPON_FIELDS},
    )
    return coupon


def coupon_uses(coupon: Coupon) -> int:
    return _uses(coupon).count()


def discount_text(coupon: Coupon, discount_cents: int) -> str:
    return f"{coupon.code}: {coupon.offer} (−{format_money(discount_cents)})"  # noqa: RUF001
