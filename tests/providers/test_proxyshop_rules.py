"""The proxy shop's rules: input formats, price arithmetic and renewal arithmetic."""

from __future__ import annotations

import datetime as dt

import pytest

from integrations.proxyshop import rules
from providers.http.rules import RuleViolation

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
MONTH = dt.timedelta(days=30)


@pytest.mark.parametrize("value", ["abc123", "k17m3q5v7n9p1r2t4w6y8z0a", "0"])
def test_it_accepts_lowercase_alphanumeric_ids(value):
    assert rules.id_violations("plan_id", value) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ABC123", "lowercase letters and digits"),
        ("abc-123", "lowercase letters and digits"),
        ("abc 123", "lowercase letters and digits"),
        ("abc\n", "lowercase letters and digits"),
        ("", "is required"),
        (None, "is required"),
        (123, "is required"),
    ],
)
def test_it_refuses_malformed_ids(value, message):
    [violation] = rules.id_violations("plan_id", value)
    assert violation.field == "plan_id"
    assert message in violation.message


@pytest.mark.parametrize("value", [1, 2, rules.MAX_QUANTITY])
def test_it_accepts_positive_counts(value):
    assert rules.count_violations("quantity", value) == []


@pytest.mark.parametrize("value", [0, -1, 1.5, 2.0, "2", True, None])
def test_it_refuses_counts_that_are_not_positive_whole_numbers(value):
    assert rules.count_violations("quantity", value) == [RuleViolation("quantity", "must be a positive whole number")]


@pytest.mark.parametrize("minutes", [0, 5, 10, 15, 30, 60])
def test_it_accepts_every_documented_rotation_policy(minutes):
    assert rules.rotation_policy_violations(minutes) == []


@pytest.mark.parametrize("minutes", [1, 7, 20, 45, 90, -5, 10.0, "10", True, None])
def test_it_refuses_other_rotation_policies(minutes):
    [violation] = rules.rotation_policy_violations(minutes)
    assert violation.field == "rotation_policy"
    assert "0, 5, 10, 15, 30, 60" in violation.message


@pytest.mark.parametrize("code", [None, "WELCOME10", "MYCODE"])
def test_it_accepts_no_coupon_or_a_code(code):
    assert rules.coupon_code_violations(code) == []


@pytest.mark.parametrize("code", ["", "   ", 10, ["WELCOME10"]])
def test_it_refuses_an_empty_or_non_text_coupon(code):
    assert [v.field for v in rules.coupon_code_violations(code)] == ["coupon_code"]


def test_it_reports_every_broken_purchase_field_at_once():
    violations = rules.purchase_violations(plan_id="Bad", coupon_code="", repeat_count=0, quantity=-2)
    assert [v.field for v in violations] == ["plan_id", "coupon_code", "repeat_count", "quantity"]


@pytest.mark.parametrize(
    ("check", "fields"),
    [
        (lambda: rules.trial_violations(plan_id="x_y"), ["plan_id"]),
        (lambda: rules.subscription_violations(subscription_id=None), ["subscription_id"]),
        (
            lambda: rules.renew_violations(subscription_id="ABC", plan_id="", coupon_code=" ", repeat_count=0),
            ["subscription_id", "plan_id", "coupon_code", "repeat_count"],
        ),
        (
            lambda: rules.set_rotation_policy_violations(subscription_id="sub1", rotation_policy=3),
            ["rotation_policy"],
        ),
        (
            lambda: rules.switch_network_violations(subscription_id="sub1", target_network="DE-BER"),
            ["target_network"],
        ),
        (lambda: rules.purchase_violations(plan_id="plan1"), []),
    ],
)
def test_each_op_checks_its_own_fields(check, fields):
    assert [v.field for v in check()] == fields


@pytest.mark.parametrize(
    ("price", "repeat", "quantity", "discount", "expected"),
    [
        (1200, 1, 1, 0, 1200),
        (1200, 3, 1, 0, 3600),
        (1200, 1, 2, 0, 2400),
        (1200, 3, 2, 0, 7200),
        (1200, 3, 2, 10, 6480),
        # 10% of 999 is 99.9: the discount rounds down, so the charge rounds up.
        (999, 1, 1, 10, 900),
        (5, 1, 1, 10, 5),
        (1200, 1, 1, 100, 0),
    ],
)
def test_it_charges_price_times_repeat_times_quantity(price, repeat, quantity, discount, expected):
    assert rules.purchase_price_cents(price, repeat, quantity, discount) == expected


@pytest.mark.parametrize(
    ("price", "repeat", "discount", "expected"),
    [(1500, 1, 0, 1500), (1500, 2, 0, 3000), (1500, 2, 10, 2700), (333, 1, 10, 300)],
)
def test_it_charges_a_renewal_price_times_repeat(price, repeat, discount, expected):
    assert rules.renewal_price_cents(price, repeat, discount) == expected


@pytest.mark.parametrize("discount", [-1, 101])
def test_it_refuses_an_impossible_discount(discount):
    with pytest.raises(ValueError, match="discount_percent"):
        rules.purchase_price_cents(1200, 1, 1, discount)


def test_a_purchase_runs_duration_times_repeat_from_now():
    assert rules.purchase_end(NOW, MONTH, 3) == NOW + dt.timedelta(days=90)


@pytest.mark.parametrize(
    ("current_end", "repeat", "expected"),
    [
        (NOW + dt.timedelta(days=5), 1, NOW + dt.timedelta(days=35)),
        (NOW + dt.timedelta(days=5), 2, NOW + dt.timedelta(days=65)),
        (NOW - dt.timedelta(days=5), 1, NOW + dt.timedelta(days=30)),
        (NOW, 1, NOW + dt.timedelta(days=30)),
    ],
)
def test_it_renews_from_the_later_of_now_and_the_current_end(current_end, repeat, expected):
    assert rules.renewed_end(current_end, NOW, MONTH, repeat) == expected


@pytest.mark.parametrize(
    ("active_until", "expired"),
    [(NOW + dt.timedelta(seconds=1), False), (NOW, True), (NOW - dt.timedelta(days=1), True)],
)
def test_a_subscription_expires_at_its_end(active_until, expired):
    assert rules.is_expired(active_until, NOW) is expired
