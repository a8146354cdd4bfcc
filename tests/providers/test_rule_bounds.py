"""Every whole number the rules accept fits what the API and our database hold (issue 12)."""

from __future__ import annotations

import pytest

from integrations.iproxy import rules as iproxy_rules
from integrations.proxyshop import rules as shop_rules
from integrations.unknownproxies import rules as up_rules
from integrations.unknownproxies.client import Client as UnknownProxiesClient
from providers.http import errors
from providers.http.rules import BIGINT_MAX, INTEGER_MAX

GB = 10**9


def test_the_largest_residential_data_limit_fits_a_bigint_in_whole_gigabytes():
    assert up_rules.MAX_DATA_LIMIT <= BIGINT_MAX
    assert up_rules.MAX_DATA_LIMIT % GB == 0
    assert up_rules.MAX_DATA_LIMIT + GB > BIGINT_MAX
    assert up_rules.data_limit(up_rules.MAX_DATA_LIMIT) == []


@pytest.mark.parametrize("value", [up_rules.MAX_DATA_LIMIT + GB, 10**30])
def test_it_refuses_a_residential_data_limit_past_a_bigint(value):
    [violation] = up_rules.data_limit(value)
    assert violation.field == "dataLimit"
    assert violation.message == f"must be at most {up_rules.MAX_DATA_LIMIT:,} bytes (9,223,372,036 GB)"
    assert up_rules.create_resi_token({"dataLimit": value}) == [violation]
    assert up_rules.modify_resi_token({"token": "t", "dataLimit": value}, known_pools=None) == [violation]


@pytest.mark.parametrize("operation", ["create", "modify"])
def test_the_client_refuses_an_oversized_data_limit_without_a_request(operation):
    client = UnknownProxiesClient("http://nothing.invalid/api/v1", "user", "pass")
    with pytest.raises(errors.InvalidRequestError, match="must be at most"):
        if operation == "create":
            client.create_resi_token(10**30)
        else:
            client.modify_resi_token("token", data_limit=10**30)


@pytest.mark.parametrize(
    ("field", "value", "high"),
    [("quantity", shop_rules.MAX_QUANTITY, shop_rules.MAX_QUANTITY)],
)
def test_shop_counts_accept_their_bound(field, value, high):
    assert shop_rules.count_violations(field, value, high) == []


@pytest.mark.parametrize(
    ("violations", "field", "message"),
    [
        (
            shop_rules.purchase_violations(plan_id="p1", repeat_count=10**30),
            "repeat_count",
            f"must be at most {shop_rules.MAX_REPEAT_COUNT:,}",
        ),
        (
            shop_rules.purchase_violations(plan_id="p1", quantity=shop_rules.MAX_QUANTITY + 1),
            "quantity",
            f"must be at most {shop_rules.MAX_QUANTITY:,}",
        ),
        (
            shop_rules.renew_violations(
                subscription_id="s1", plan_id="p1", repeat_count=shop_rules.MAX_REPEAT_COUNT + 1
            ),
            "repeat_count",
            f"must be at most {shop_rules.MAX_REPEAT_COUNT:,}",
        ),
        (
            iproxy_rules.check_prolongation_days(10**30),
            "days",
            f"must be at most {iproxy_rules.MAX_PROLONGATION_DAYS:,} days",
        ),
        (
            iproxy_rules.check_update_settings({"app_restart_interval_minutes": INTEGER_MAX + 1}),
            "app_restart_interval_minutes",
            f"must be at most {INTEGER_MAX:,}",
        ),
        (
            iproxy_rules.check_update_settings({"tariff_notify_hours_before_expired": [24, 10**30]}),
            "tariff_notify_hours_before_expired",
            f"must be a list of whole numbers from 0 to {INTEGER_MAX:,}",
        ),
    ],
)
def test_unbounded_documented_integers_are_held_to_what_we_can_store(violations, field, message):
    assert [(v.field, v.message) for v in violations] == [(field, message)]


def test_bounds_still_accept_the_largest_allowed_values():
    assert shop_rules.purchase_violations(plan_id="p1", repeat_count=shop_rules.MAX_REPEAT_COUNT) == []
    assert iproxy_rules.check_prolongation_days(iproxy_rules.MAX_PROLONGATION_DAYS - 20, plan_days=30) == []
    assert iproxy_rules.check_update_settings({"connection_refresh_interval_minutes": INTEGER_MAX}) == []
