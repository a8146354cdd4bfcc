"""The proxy shop's validation, price and renewal rules, shared by its client, forms and sandbox twin."""

from __future__ import annotations

import datetime as dt
import re

from providers.http.rules import RuleViolation, at_most, is_int

ROTATION_POLICIES: tuple[int, ...] = (0, 5, 10, 15, 30, 60)
# The document says "positive integer" with no bound. Our decision, for staff forms: a typo cannot buy hundreds
# of proxies or years at once, and price * repeatCount * quantity stays well within the bigint that holds money.
MAX_QUANTITY = 100
MAX_REPEAT_COUNT = 36
_ID = re.compile(r"[a-z0-9]+")


def id_violations(field: str, value: object) -> list[RuleViolation]:
    """Plan, subscription and network ids are lowercase letters and digits."""
    if not isinstance(value, str) or not value:
        return [RuleViolation(field, "is required")]
    if not _ID.fullmatch(value):
        return [RuleViolation(field, "must be lowercase letters and digits only")]
    return []


def count_violations(field: str, value: object, high: int = MAX_QUANTITY) -> list[RuleViolation]:
    """repeatCount and quantity are positive whole numbers, at most `high`."""
    if not is_int(value) or value < 1:
        return [RuleViolation(field, "must be a positive whole number")]
    return at_most(field, value, high)


def rotation_policy_violations(value: object) -> list[RuleViolation]:
    if not is_int(value) or value not in ROTATION_POLICIES:
        allowed = ", ".join(str(minutes) for minutes in ROTATION_POLICIES)
        return [RuleViolation("rotation_policy", f"must be one of {allowed} minutes")]
    return []


def coupon_code_violations(value: object) -> list[RuleViolation]:
    """A coupon is optional; when given it is a non-empty string (whether it is valid only the shop knows)."""
    if value is None:
        return []
    if not isinstance(value, str) or not value.strip():
        return [RuleViolation("coupon_code", "must be a non-empty code when given")]
    return []


def purchase_violations(
    *, plan_id: object, coupon_code: object = None, repeat_count: object = 1, quantity: object = 1
) -> list[RuleViolation]:
    return [
        *id_violations("plan_id", plan_id),
        *coupon_code_violations(coupon_code),
        *count_violations("repeat_count", repeat_count, MAX_REPEAT_COUNT),
        *count_violations("quantity", quantity, MAX_QUANTITY),
    ]


def trial_violations(*, plan_id: object) -> list[RuleViolation]:
    return id_violations("plan_id", plan_id)


def subscription_violations(*, subscription_id: object) -> list[RuleViolation]:
    """The only input of renewal-plans, available-networks and change-credentials."""
    return id_violations("subscription_id", subscription_id)


def renew_violations(
    *, subscription_id: object, plan_id: object, coupon_code: object = None, repeat_count: object = 1
) -> list[RuleViolation]:
    return [
        *id_violations("subscription_id", subscription_id),
        *id_violations("plan_id", plan_id),
        *coupon_code_violations(coupon_code),
        *count_violations("repeat_count", repeat_count, MAX_REPEAT_COUNT),
    ]


def set_rotation_policy_violations(*, subscription_id: object, rotation_policy: object) -> list[RuleViolation]:
    return [*id_violations("subscription_id", subscription_id), *rotation_policy_violations(rotation_policy)]


def rotate_path_violations(value: object) -> list[RuleViolation]:
    """A subscription's `rotate.rotatePath`; the message never repeats it (the path is a secret)."""
    if not isinstance(value, str) or not value:
        return [RuleViolation("rotate_path", "is required")]
    return []


def switch_network_violations(*, subscription_id: object, target_network: object) -> list[RuleViolation]:
    return [*id_violations("subscription_id", subscription_id), *id_violations("target_network", target_network)]


# Money ---------------------------------------------------------------------


def purchase_price_cents(price_cents: int, repeat_count: int, quantity: int, discount_percent: int = 0) -> int:
    """`price * repeatCount * quantity` less the coupon, in whole cents.

    The discount is taken from the total and rounded down to a whole cent, so the charge is
    rounded up: we never promise a customer more discount than the shop may give.
    """
    if not 0 <= discount_percent <= 100:
        raise ValueError("discount_percent must be between 0 and 100")
    gross = price_cents * repeat_count * quantity
    return gross - gross * discount_percent // 100


def renewal_price_cents(price_cents: int, repeat_count: int, discount_percent: int = 0) -> int:
    """`price * repeatCount` less the coupon, rounded like a purchase."""
    return purchase_price_cents(price_cents, repeat_count, 1, discount_percent)


# Time ----------------------------------------------------------------------


def is_expired(active_until: dt.datetime, now: dt.datetime) -> bool:
    return active_until <= now


def purchase_end(now: dt.datetime, duration: dt.timedelta, repeat_count: int) -> dt.datetime:
    """A new subscription runs `duration * repeatCount` from now."""
    return now + duration * repeat_count


def renewed_end(current_end: dt.datetime, now: dt.datetime, duration: dt.timedelta, repeat_count: int) -> dt.datetime:
    """A renewal extends from the later of now and the current end, so lapsed days are never paid for."""
    return max(now, current_end) + duration * repeat_count
