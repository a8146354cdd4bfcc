"""The proxy shop client against its sandbox twin: every op, every documented error, parsing and retries."""

from __future__ import annotations

import copy
import datetime as dt
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from integrations.proxyshop import client as proxyshop
from integrations.proxyshop.client import Client
from providers.http import errors

API = "/shop/api/proxy"


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(sandbox, sleeps):
    return Client(sandbox.base_url("shop"), "rk_sandbox", sleep=sleeps.append)


@pytest.fixture
def trial_client(sandbox, sleeps):
    return Client(sandbox.base_url("shop"), "rk_sandbox_trial", sleep=sleeps.append)


@pytest.fixture
def shop(sandbox):
    return sandbox.app.provider("shop")


def api_calls(sandbox, method=None):
    return sandbox.calls(method, API)


def sandbox_now(sandbox) -> dt.datetime:
    return dt.datetime.fromtimestamp(sandbox.app.clock.now(), tz=dt.UTC)


def faults(sandbox, *rules):
    sandbox.control("faults", {"rules": [{"provider": "shop", **rule} for rule in rules]})


# Reads ---------------------------------------------------------------------


def test_it_lists_plans_with_their_networks(client):
    plans = {plan.id: plan for plan in client.plans()}
    assert "frpar30private" not in plans  # inactive plans are not offered
    plan = plans["nlams30private"]
    assert plan.connection_type == "private"
    assert plan.duration == dt.timedelta(days=30)
    assert plan.price_cents == 1200
    assert plan.popular is True
    assert plan.network == proxyshop.PlanNetwork(name="NL-AMS", city="Amsterdam", country="NL", network_type="mobile")


def test_it_sends_the_api_key_header_and_the_op_in_the_query(sandbox, client):
    client.renewal_plans("subdestatic")
    [call] = api_calls(sandbox)
    assert call.request.headers["x-api-key"] == "rk_sandbox"
    assert parse_qs(urlsplit(call.request.url).query) == {"op": ["renewal-plans"], "subscriptionId": ["subdestatic"]}


def test_it_lists_subscriptions_with_credentials_protocols_and_rotation(client):
    subscriptions = {sub.id: sub for sub in client.subscriptions()}
    rotating = subscriptions["subnlrotating"]
    assert rotating.status == "active"
    assert rotating.user_note == "Client A"
    assert rotating.rotation_policy == 10
    assert rotating.label == "12001 - NL - Private"
    assert rotating.network_label == "NL-AMS Amsterdam"
    assert rotating.rotate.available is True
    assert rotating.rotate.rotate_path.startswith("/r/")
    assert rotating.credentials.username in rotating.protocols.http
    assert rotating.protocols.socks5.startswith("socks5://")
    assert rotating.active_until.tzinfo is not None
    assert subscriptions["subdestatic"].rotate == proxyshop.Rotate(rotate_path=None, available=False)
    assert subscriptions["subnlexpired"].status == "expired"


def test_it_lists_renewal_plans_for_a_subscription(client):
    plans = client.renewal_plans("subnlrotating")
    assert [(plan.id, plan.duration.days, plan.price_cents) for plan in plans] == [
        ("nlams30private", 30, 1200),
        ("nlams90private", 90, 3300),
    ]


def test_it_lists_the_networks_a_subscription_can_switch_to(client):
    networks = client.available_networks("subdestatic")
    assert [(n.id, n.network_label, n.country) for n in networks] == [
        ("netnlams", "NL-AMS Amsterdam", "NL"),
        ("netusnyc", "US-NYC New York", "US"),
    ]


# Purchase ------------------------------------------------------------------


def test_it_sends_the_op_and_fields_in_the_json_body(sandbox, client):
    client.purchase("nlams7shared", coupon_code="WELCOME10", repeat_count=2, quantity=3)
    [call] = api_calls(sandbox, "POST")
    assert call.request.headers["x-api-key"] == "rk_sandbox"
    assert json.loads(call.request.body) == {
        "op": "purchase",
        "planId": "nlams7shared",
        "couponCode": "WELCOME10",
        "repeatCount": 2,
        "quantity": 3,
    }


def test_it_purchases_one_subscription_from_a_subscription_answer(sandbox, client, shop):
    before = sandbox_now(sandbox)
    result = client.purchase("nlams30private")
    assert "subscription" in result.raw and "subscriptions" not in result.raw
    [subscription] = result.subscriptions
    assert result.subscription_ids == (subscription.id,)
    assert subscription.status == "active"
    # activeUntil travels in whole (rounded) milliseconds, so it may land just before `before + 30 days`.
    assert subscription.active_until - before >= dt.timedelta(days=30, milliseconds=-1)
    assert subscription.active_until - before < dt.timedelta(days=30, seconds=5)
    assert subscription.id in shop.subscriptions


def test_it_purchases_several_subscriptions_from_a_subscriptions_answer(client):
    result = client.purchase("nlams7shared", quantity=3)
    assert "subscriptions" in result.raw
    assert len(result.subscriptions) == 3
    assert result.subscription_ids == tuple(sub.id for sub in result.subscriptions)
    assert len({sub.label for sub in result.subscriptions}) == 3
    listed = {sub.id for sub in client.subscriptions()}
    assert set(result.subscription_ids) <= listed


@pytest.mark.parametrize(
    ("repeat_count", "quantity", "charged", "days"),
    [(1, 1, 1200, 30), (3, 1, 3600, 90), (1, 2, 2400, 30), (3, 2, 7200, 90)],
)
def test_it_charges_price_times_repeat_times_quantity(sandbox, client, shop, repeat_count, quantity, charged, days):
    balance = shop.balance_cents
    before = sandbox_now(sandbox)
    result = client.purchase("nlams30private", repeat_count=repeat_count, quantity=quantity)
    assert balance - shop.balance_cents == charged
    assert len(result.subscriptions) == quantity
    for subscription in result.subscriptions:
        # activeUntil travels in whole milliseconds.
        elapsed = subscription.active_until - before
        assert dt.timedelta(days=days, milliseconds=-1) <= elapsed < dt.timedelta(days=days, seconds=5)


def test_it_applies_the_welcome_coupon(client, shop):
    balance = shop.balance_cents
    client.purchase("nlams30private", coupon_code="WELCOME10", repeat_count=3, quantity=2)
    assert balance - shop.balance_cents == 6480  # 7200 less 10%


@pytest.mark.parametrize(("code", "message"), [("NOPE", "Unknown coupon code"), ("SPRING20", "expired")])
def test_it_refuses_an_unknown_or_expired_coupon_without_charging(client, shop, code, message):
    balance, count = shop.balance_cents, len(shop.subscriptions)
    with pytest.raises(errors.CouponRejectedError, match=message) as caught:
        client.purchase("nlams30private", coupon_code=code)
    assert caught.value.status == 400
    assert caught.value.field == "coupon_code"
    assert (shop.balance_cents, len(shop.subscriptions)) == (balance, count)


def test_it_refuses_a_purchase_the_balance_cannot_cover(sandbox, client, shop):
    sandbox.control("balance", {"provider": "shop", "amount_cents": 1199})
    with pytest.raises(errors.InsufficientBalanceError, match="Insufficient balance") as caught:
        client.purchase("nlams30private")
    assert caught.value.status == 402
    assert shop.balance_cents == 1199


def test_it_spends_the_balance_down_to_exactly_zero(sandbox, client, shop):
    sandbox.control("balance", {"provider": "shop", "amount_cents": 2400})
    client.purchase("nlams30private", quantity=2)
    assert shop.balance_cents == 0


# Trial ---------------------------------------------------------------------


def test_it_issues_a_free_trial_for_a_key_with_trials_enabled(trial_client, shop):
    balance = shop.balance_cents
    result = trial_client.trial("nlams7shared")
    [subscription] = result.subscriptions
    assert subscription.status == "active"
    assert shop.balance_cents == balance


def test_it_raises_trial_not_enabled_for_the_demo_key(client, shop):
    count = len(shop.subscriptions)
    with pytest.raises(errors.TrialNotEnabledError) as caught:
        client.trial("nlams7shared")
    assert isinstance(caught.value, errors.ForbiddenError)
    assert caught.value.status == 403
    assert caught.value.message == "Trial is not enabled for this API key"
    assert len(shop.subscriptions) == count


# Renew ---------------------------------------------------------------------


def test_it_renews_from_the_current_end_while_active(client, shop):
    current_end = shop.subscriptions["subnlrotating"].active_until
    result = client.renew("subnlrotating", "nlams90private", repeat_count=2)
    assert result.subscription_id == "subnlrotating"
    assert abs(result.end_at - (current_end + dt.timedelta(days=180))) < dt.timedelta(milliseconds=2)


def test_it_renews_an_expired_subscription_from_now(sandbox, client):
    before = sandbox_now(sandbox)
    result = client.renew("subnlexpired", "nlams30private")
    after = sandbox_now(sandbox)
    # activeUntil travels in whole milliseconds.
    millisecond = dt.timedelta(milliseconds=1)
    assert before + dt.timedelta(days=30) - millisecond <= result.end_at <= after + dt.timedelta(days=30) + millisecond
    [renewed] = [sub for sub in client.subscriptions() if sub.id == "subnlexpired"]
    assert renewed.status == "active"


@pytest.mark.parametrize(
    ("coupon", "repeat_count", "charged"), [(None, 1, 1500), (None, 3, 4500), ("WELCOME10", 2, 2700)]
)
def test_it_charges_a_renewal_price_times_repeat(client, shop, coupon, repeat_count, charged):
    balance = shop.balance_cents
    client.renew("subdestatic", "deber30private", coupon_code=coupon, repeat_count=repeat_count)
    assert balance - shop.balance_cents == charged


def test_it_refuses_a_renewal_with_an_unknown_coupon_without_charging(client, shop):
    balance, end = shop.balance_cents, shop.subscriptions["subdestatic"].active_until
    with pytest.raises(errors.CouponRejectedError):
        client.renew("subdestatic", "deber30private", coupon_code="NOPE")
    assert (shop.balance_cents, shop.subscriptions["subdestatic"].active_until) == (balance, end)


# Credentials, rotation, network ---------------------------------------------


def test_it_changes_credentials_and_the_protocol_urls_follow(client):
    result = client.change_credentials("subdestatic")
    assert len(result.password) == 8
    assert len(result.vpn) == 36
    [subscription] = [sub for sub in client.subscriptions() if sub.id == "subdestatic"]
    assert subscription.credentials.password == result.password
    assert f":{result.password}@" in subscription.protocols.http
    assert f":{result.password}@" in subscription.protocols.socks5
    assert result.vpn in subscription.protocols.vless


def test_it_sets_the_rotation_policy(client):
    assert client.set_rotation_policy("subnlrotating", 30) is None
    [subscription] = [sub for sub in client.subscriptions() if sub.id == "subnlrotating"]
    assert subscription.rotation_policy == 30


def test_it_switches_network(client):
    subscription = client.switch_network("subdestatic", "netnlams")
    assert subscription.id == "subdestatic"
    assert subscription.network_label == "NL-AMS Amsterdam"
    assert subscription.label == "12002 - NL - Private"
    assert [n.id for n in client.available_networks("subdestatic")] == ["netdeber", "netusnyc"]


def _rotate_path(client, subscription_id="subnlrotating") -> str:
    [subscription] = [sub for sub in client.subscriptions() if sub.id == subscription_id]
    return subscription.rotate.rotate_path


def test_it_follows_the_rotate_link_once_without_the_api_key(sandbox, client):
    path = _rotate_path(client)
    [before] = [sub for sub in client.subscriptions() if sub.id == "subnlrotating"]
    result = client.follow_rotate_path(path)
    assert isinstance(result, proxyshop.RotateResult)
    assert isinstance(result.ip, str) and result.ip != before.raw["currentIp"]
    assert result.raw == {"ok": True, "ip": result.ip}
    assert path.removeprefix("/r/") not in repr(result)
    [call] = sandbox.calls(None, path)
    assert call.request.method == "GET"
    assert "x-api-key" not in {key.lower() for key in call.request.headers}
    [after] = [sub for sub in client.subscriptions() if sub.id == "subnlrotating"]
    assert after.raw["currentIp"] == result.ip


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"kind": "lost_response"}, errors.UnknownOutcomeError),
        ({"kind": "status", "status": 500}, errors.UnknownOutcomeError),
        ({"kind": "status", "status": 503}, errors.UnavailableError),
        ({"kind": "rate_limit", "retry_after": 1}, errors.RateLimitedError),
    ],
)
def test_a_failed_rotate_link_is_sent_once(sandbox, client, sleeps, fault, error):
    # The GET changes the IP: it is never retried, even on a status a read would retry.
    path = _rotate_path(client)
    faults(sandbox, {"match": f"GET {path}", **fault})
    with pytest.raises(error) as caught:
        client.follow_rotate_path(path)
    assert caught.value.operation == "rotate"
    assert path.removeprefix("/r/") not in str(caught.value)
    assert len(sandbox.calls("GET", path)) == 1
    assert sleeps == []


def test_the_rotate_link_of_an_expired_subscription_is_a_conflict(sandbox, client):
    path = _rotate_path(client, "subnlexpired")
    with pytest.raises(errors.ConflictError) as caught:
        client.follow_rotate_path(path)
    assert caught.value.status == 409
    assert len(sandbox.calls("GET", path)) == 1


@pytest.mark.parametrize("path", ["", None])
def test_it_refuses_a_missing_rotate_path_before_sending(sandbox, client, path):
    with pytest.raises(errors.InvalidRequestError) as caught:
        client.follow_rotate_path(path)
    assert caught.value.field == "rotate_path"
    assert sandbox.calls() == []


@pytest.mark.parametrize(
    ("body", "ip"),
    [
        ({"ok": True, "ip": "10.0.0.7"}, "10.0.0.7"),
        ({"ok": False, "ip": "10.0.0.7"}, "10.0.0.7"),
        ({"ok": True}, None),
        ({"ok": True, "ip": None}, None),
        ({"ok": True, "ip": 7}, None),
        (None, None),
        (["10.0.0.7"], None),
    ],
)
def test_a_rotate_answer_parses_leniently_since_the_ip_has_already_changed(body, ip):
    result = proxyshop.parse_rotate(body)
    assert result.ip == ip
    assert result.raw == (body if isinstance(body, dict) else {})


# Documented errors, produced from the sandbox's state ------------------------


@pytest.mark.parametrize(
    ("call", "error", "status", "message", "field"),
    [
        (lambda c: c.purchase("nosuchplan"), errors.InvalidRequestError, 400, "Missing or invalid planId", "plan_id"),
        (
            lambda c: c.renew("subdestatic", "nlams30private"),
            errors.InvalidRequestError,
            400,
            "Missing or invalid planId",
            "plan_id",
        ),
        (
            lambda c: c.switch_network("subdestatic", "nosuchnet"),
            errors.InvalidRequestError,
            400,
            "Missing or invalid targetNetwork",
            "target_network",
        ),
        (lambda c: c.purchase("nlams30private", coupon_code="NOPE"), errors.CouponRejectedError, 400, "coupon", None),
        (lambda c: c.trial("nlams30private"), errors.TrialNotEnabledError, 403, "Trial is not enabled", None),
        (lambda c: c.change_credentials("nosuchsub"), errors.NotFoundError, 404, "Subscription not found", None),
        (lambda c: c.renewal_plans("nosuchsub"), errors.NotFoundError, 404, "Subscription not found", None),
        (lambda c: c.available_networks("nosuchsub"), errors.NotFoundError, 404, "Subscription not found", None),
        (lambda c: c.renew("nosuchsub", "nlams30private"), errors.NotFoundError, 404, "Subscription not found", None),
        (
            lambda c: c.set_rotation_policy("subdestatic", 5),
            errors.RotationUnavailableError,
            409,
            "Rotation policy not available for this subscription",
            None,
        ),
        (lambda c: c.purchase("usnyc30private"), errors.SoldOutError, 409, "Plan is sold out", None),
        (lambda c: c.purchase("frpar30private"), errors.SoldOutError, 409, "Plan is inactive", None),
        (lambda c: c.switch_network("subdestatic", "netfrpar"), errors.SoldOutError, 409, "Network is inactive", None),
        (lambda c: c.switch_network("subdestatic", "netdeber"), errors.ConflictError, 409, "already on this", None),
        (lambda c: c.change_credentials("subnlexpired"), errors.ConflictError, 409, "expired", None),
        (lambda c: c.set_rotation_policy("subnlexpired", 5), errors.ConflictError, 409, "expired", None),
        (lambda c: c.switch_network("subnlexpired", "netdeber"), errors.ConflictError, 409, "expired", None),
    ],
)
def test_it_raises_a_typed_error_for_each_documented_answer(client, call, error, status, message, field):
    with pytest.raises(errors.ProviderError) as caught:
        call(client)
    assert type(caught.value) is error
    assert caught.value.status == status
    assert message in caught.value.message
    assert caught.value.provider == "shop"
    if field:
        assert caught.value.field == field


def test_it_raises_authentication_error_for_a_wrong_key(sandbox):
    client = Client(sandbox.base_url("shop"), "rk_wrong_key_0123")
    with pytest.raises(errors.AuthenticationError, match="Unauthorized") as caught:
        client.plans()
    assert caught.value.status == 401
    assert len(api_calls(sandbox)) == 1  # a 401 is not retried


def test_an_action_on_a_subscription_that_lapsed_by_the_clock_answers_409(sandbox, client):
    client.change_credentials("subnlexpiring")
    sandbox.control("clock", {"advance_seconds": 3 * 3600})
    with pytest.raises(errors.ConflictError, match="expired"):
        client.change_credentials("subnlexpiring")


@pytest.mark.parametrize(
    ("message", "error", "field"),
    [
        ("Invalid JSON body", errors.InvalidRequestError, None),
        ("Body must be an object", errors.InvalidRequestError, None),
        ("Missing or unknown op", errors.InvalidRequestError, "op"),
        ("Missing or invalid rotationPolicy", errors.InvalidRequestError, "rotation_policy"),
        ("Invalid repeatCount or quantity", errors.InvalidRequestError, "repeat_count"),
        ("Coupon is invalid", errors.CouponRejectedError, "coupon_code"),
    ],
)
def test_it_maps_the_400_messages_no_client_call_can_provoke(client, message, error, field):
    # The client always sends a JSON object with a known op, so these answers are mapped directly.
    mapped = client._error_for_status(400, message, operation="plans", body={"ok": False, "error": message})
    assert type(mapped) is error
    assert mapped.field == field
    assert mapped.message == message


# Faults the state cannot produce: 429 and 500 --------------------------------


def test_it_retries_get_ops_on_429_honouring_retry_after(sandbox, client, sleeps):
    faults(sandbox, {"match": "GET plans", "kind": "rate_limit", "retry_after": 7, "times": 2})
    assert client.plans()
    assert sleeps == [7, 7]
    assert len(api_calls(sandbox)) == 3


def test_it_raises_rate_limited_when_the_retries_run_out(sandbox, client, sleeps):
    faults(sandbox, {"match": "GET subscriptions", "kind": "rate_limit", "retry_after": 2, "times": 10})
    with pytest.raises(errors.RateLimitedError) as caught:
        client.subscriptions()
    assert caught.value.retry_after == 2
    assert caught.value.status == 429
    assert len(api_calls(sandbox)) == 1 + client.retries


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.purchase("nlams30private"),
        lambda c: c.renew("subdestatic", "deber30private"),
        lambda c: c.trial("nlams30private"),
    ],
)
def test_it_never_retries_a_purchase_trial_or_renewal(sandbox, client, shop, sleeps, call):
    balance = shop.balance_cents
    faults(sandbox, {"match": "POST ", "kind": "rate_limit", "retry_after": 1, "times": 5})
    with pytest.raises(errors.RateLimitedError):
        call(client)
    assert len(api_calls(sandbox)) == 1
    assert sleeps == []
    assert shop.balance_cents == balance


def test_it_retries_a_500_on_a_read_then_succeeds(sandbox, client, sleeps):
    faults(sandbox, {"match": "GET subscriptions", "kind": "status", "status": 500, "times": 1})
    assert client.subscriptions()
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    ("match", "call"),
    [("GET plans", lambda c: c.plans()), ("POST purchase", lambda c: c.purchase("nlams30private"))],
)
def test_a_403_outside_trial_is_forbidden_not_trial_not_enabled(sandbox, client, match, call):
    faults(sandbox, {"match": match, "kind": "status", "status": 403})
    with pytest.raises(errors.ForbiddenError) as caught:
        call(client)
    assert type(caught.value) is errors.ForbiddenError
    assert caught.value.status == 403
    assert len(api_calls(sandbox)) == 1


def test_a_500_on_a_write_is_an_unknown_outcome_not_a_retry(sandbox, client):
    # An internal error after the change was applied must not read as "nothing happened".
    faults(sandbox, {"match": "POST change-credentials", "kind": "status", "status": 500})
    with pytest.raises(errors.UnknownOutcomeError) as caught:
        client.change_credentials("subdestatic")
    assert caught.value.status == 500
    assert len(api_calls(sandbox)) == 1


def test_a_lost_purchase_answer_is_an_unknown_outcome_reconciled_by_listing(sandbox, client, shop):
    before_ids = {sub.id for sub in client.subscriptions()}
    balance = shop.balance_cents
    faults(sandbox, {"match": "POST purchase", "kind": "lost_response"})
    with pytest.raises(errors.UnknownOutcomeError):
        client.purchase("nlams30private", repeat_count=2)
    assert len(api_calls(sandbox, "POST")) == 1
    new = [sub for sub in client.subscriptions() if sub.id not in before_ids]
    assert len(new) == 1
    assert shop.balance_cents == balance - 2400


# Validation before sending, and the twin agrees ------------------------------


@pytest.mark.parametrize(
    ("call", "field", "raw", "message"),
    [
        (
            lambda c: c.purchase("NL-AMS"),
            "plan_id",
            {"op": "purchase", "planId": "NL-AMS"},
            "Missing or invalid planId",
        ),
        (
            lambda c: c.purchase("nlams30private", repeat_count=0),
            "repeat_count",
            {"op": "purchase", "planId": "nlams30private", "repeatCount": 0},
            "Invalid repeatCount or quantity",
        ),
        (
            lambda c: c.purchase("nlams30private", quantity=-1),
            "quantity",
            {"op": "purchase", "planId": "nlams30private", "quantity": -1},
            "Invalid repeatCount or quantity",
        ),
        (
            lambda c: c.purchase("nlams30private", quantity=1.5),
            "quantity",
            {"op": "purchase", "planId": "nlams30private", "quantity": 1.5},
            "Invalid repeatCount or quantity",
        ),
        (
            lambda c: c.purchase("nlams30private", coupon_code=""),
            "coupon_code",
            {"op": "purchase", "planId": "nlams30private", "couponCode": ""},
            "Missing or invalid couponCode",
        ),
        (lambda c: c.trial(""), "plan_id", {"op": "trial", "planId": ""}, "Missing or invalid planId"),
        (
            lambda c: c.renew("subdestatic", "deber30private", repeat_count=True),
            "repeat_count",
            {"op": "renew", "subscriptionId": "subdestatic", "planId": "deber30private", "repeatCount": True},
            "Invalid repeatCount or quantity",
        ),
        (
            lambda c: c.renew("SUBDESTATIC", "deber30private"),
            "subscription_id",
            {"op": "renew", "subscriptionId": "SUBDESTATIC", "planId": "deber30private"},
            "Missing or invalid subscriptionId",
        ),
        (
            lambda c: c.change_credentials("sub destatic"),
            "subscription_id",
            {"op": "change-credentials", "subscriptionId": "sub destatic"},
            "Missing or invalid subscriptionId",
        ),
        (
            lambda c: c.set_rotation_policy("subnlrotating", 7),
            "rotation_policy",
            {"op": "set-rotation-policy", "subscriptionId": "subnlrotating", "rotationPolicy": 7},
            "Missing or invalid rotationPolicy",
        ),
        (
            lambda c: c.switch_network("subdestatic", "NET_NL"),
            "target_network",
            {"op": "switch-network", "subscriptionId": "subdestatic", "targetNetwork": "NET_NL"},
            "Missing or invalid targetNetwork",
        ),
    ],
)
def test_it_refuses_invalid_input_before_sending_and_the_twin_agrees(sandbox, client, shop, call, field, raw, message):
    balance = shop.balance_cents
    with pytest.raises(errors.InvalidRequestError) as caught:
        call(client)
    assert caught.value.field == field
    assert caught.value.status is None
    assert api_calls(sandbox) == []

    response = requests.post(sandbox.base_url("shop") + "/api/proxy", json=raw, headers={"x-api-key": "rk_sandbox"})
    assert response.status_code == 400
    assert response.json() == {"ok": False, "error": message}
    assert shop.balance_cents == balance


@pytest.mark.parametrize(
    ("call", "raw_query"),
    [
        (lambda c: c.renewal_plans("Sub-1"), {"op": "renewal-plans", "subscriptionId": "Sub-1"}),
        (lambda c: c.available_networks(""), {"op": "available-networks"}),
    ],
)
def test_it_refuses_an_invalid_subscription_id_on_reads_and_the_twin_agrees(sandbox, client, call, raw_query):
    with pytest.raises(errors.InvalidRequestError):
        call(client)
    assert api_calls(sandbox) == []
    response = requests.get(
        sandbox.base_url("shop") + "/api/proxy", params=raw_query, headers={"x-api-key": "rk_sandbox"}
    )
    assert response.status_code == 400
    assert response.json() == {"ok": False, "error": "Missing or invalid subscriptionId"}


# Secrets -------------------------------------------------------------------


def test_the_api_key_never_shows_in_repr_or_errors(sandbox):
    key = "rk_live_secret_9f8e7d"
    client = Client(sandbox.base_url("shop"), key)
    assert key not in repr(client) and key not in str(client)
    with pytest.raises(errors.AuthenticationError) as caught:
        client.purchase("nlams30private")
    faults(sandbox, {"match": "POST purchase", "kind": "lost_response"})
    good = Client(sandbox.base_url("shop"), "rk_sandbox")
    with pytest.raises(errors.UnknownOutcomeError) as lost:
        good.purchase("nlams30private")
    for error in (caught.value, lost.value):
        assert key not in str(error) and key not in repr(error)
        assert "rk_sandbox" not in str(error) and "rk_sandbox" not in repr(error)


def test_the_rotate_link_stays_out_of_the_result_reprs(client):
    # The link rotates the IP without the API key, so it is as secret as a password.
    subscription = next(sub for sub in client.subscriptions() if sub.id == "subnlrotating")
    link = subscription.rotate.rotate_path
    assert link.startswith("/r/")
    assert link.removeprefix("/r/") not in repr(subscription)
    bought = client.purchase("nlams30private")
    assert bought.subscriptions[0].rotate.available is True
    assert bought.subscriptions[0].rotate.rotate_path.removeprefix("/r/") not in repr(bought)


def test_passwords_stay_out_of_the_result_reprs(client):
    subscription = next(sub for sub in client.subscriptions() if sub.id == "subdestatic")
    assert subscription.credentials.password not in repr(subscription)
    changed = client.change_credentials("subdestatic")
    assert changed.password not in repr(changed)


# The document's examples parse --------------------------------------------------

DOC_PLANS = {
    "ok": True,
    "plans": [
        {
            "id": "k17m3q5v7n9p1r2t4w6y8z0a",
            "connectionType": "private",
            "durationMs": 2592000000,
            "priceAmountCents": 1200,
            "popular": True,
            "network": {"name": "NL-AMS", "city": "Amsterdam", "country": "NL", "networkType": "mobile"},
        }
    ],
}
DOC_SUBSCRIPTION = {
    "subscriptionId": "j97b2f6m1k4n8p3r5t7v9x0z",
    "status": "active",
    "activeUntil": 1762592000000,
    "userNote": "Client A",
    "rotationPolicy": 10,
    "label": "12001 - NL - Private",
    "networkLabel": "NL-AMS Amsterdam",
    "credentials": {"username": "u_6k8s9d", "password": "p_2n4m6q"},
    "protocols": {
        "http": "http://u_6k8s9d:p_2n4m6q@proxy.example.com:12001",
        "socks5": "socks5://u_6k8s9d:p_2n4m6q@proxy.example.com:12001",
        "vless": "vless://...",
        "shadowsocks": "ss://...",
    },
    "rotate": {"rotatePath": "/r/abcd1234", "available": True},
}
DOC_SUBSCRIPTIONS = {"ok": True, "subscriptions": [DOC_SUBSCRIPTION]}
DOC_RENEWAL_PLANS = {
    "ok": True,
    "renewalPlans": [
        {
            "id": "k17m3q5v7n9p1r2t4w6y8z0a",
            "connectionType": "private",
            "durationMs": 2592000000,
            "priceAmountCents": 1200,
        }
    ],
}
DOC_NETWORKS = {
    "ok": True,
    "networks": [{"id": "b1c2d3e4f5g6h7j8k9m0n1p2", "networkLabel": "DE-BER Berlin", "country": "DE"}],
}
DOC_PURCHASE = {
    "ok": True,
    "subscriptionId": "j97b2f6m1k4n8p3r5t7v9x0z",
    "subscriptionIds": ["j97b2f6m1k4n8p3r5t7v9x0z", "n38k2f6m1k4n8p3r5t7v9x0z"],
    "subscriptions": [
        {
            "subscriptionId": "j97b2f6m1k4n8p3r5t7v9x0z",
            "status": "active",
            "activeUntil": 1767776000000,
            "label": "12001 - NL - Private",
            "networkLabel": "NL-AMS Amsterdam",
        },
        {
            "subscriptionId": "n38k2f6m1k4n8p3r5t7v9x0z",
            "status": "active",
            "activeUntil": 1767776000000,
            "label": "12002 - NL - Private",
            "networkLabel": "NL-AMS Amsterdam",
        },
    ],
}
DOC_PURCHASE_SINGLE = {
    "ok": True,
    "subscriptionId": "j97b2f6m1k4n8p3r5t7v9x0z",
    "subscription": DOC_PURCHASE["subscriptions"][0],
}
DOC_RENEW = {"ok": True, "subscriptionId": "j97b2f6m1k4n8p3r5t7v9x0z", "endAt": 1770368000000}
DOC_CHANGE_CREDENTIALS = {"ok": True, "password": "q7N3x9Lp", "vpn": "7f3d9d4a-8b9f-4a93-9f55-2d5e3b7f1c24"}
DOC_SWITCH_NETWORK = {
    "ok": True,
    "subscription": {**DOC_SUBSCRIPTION, "label": "12001 - DE - Private", "networkLabel": "DE-BER Berlin"},
}


def test_the_documented_plans_example_parses():
    [plan] = proxyshop.parse_plans(DOC_PLANS)
    assert plan == proxyshop.Plan(
        id="k17m3q5v7n9p1r2t4w6y8z0a",
        connection_type="private",
        duration=dt.timedelta(days=30),
        price_cents=1200,
        popular=True,
        network=proxyshop.PlanNetwork(name="NL-AMS", city="Amsterdam", country="NL", network_type="mobile"),
        raw={},
    )


def test_the_documented_subscriptions_example_parses():
    [sub] = proxyshop.parse_subscriptions(DOC_SUBSCRIPTIONS)
    assert sub.id == "j97b2f6m1k4n8p3r5t7v9x0z"
    assert sub.active_until == dt.datetime(2025, 11, 8, 8, 53, 20, tzinfo=dt.UTC)
    assert sub.user_note == "Client A"
    assert sub.rotation_policy == 10
    assert sub.credentials == proxyshop.Credentials(username="u_6k8s9d", password="p_2n4m6q")
    assert sub.protocols.vless == "vless://..."
    assert sub.protocols.shadowsocks == "ss://..."
    assert sub.rotate == proxyshop.Rotate(rotate_path="/r/abcd1234", available=True)
    assert sub.raw == DOC_SUBSCRIPTION


def test_the_documented_renewal_plans_and_networks_examples_parse():
    [plan] = proxyshop.parse_renewal_plans(DOC_RENEWAL_PLANS)
    assert (plan.id, plan.duration, plan.price_cents) == ("k17m3q5v7n9p1r2t4w6y8z0a", dt.timedelta(days=30), 1200)
    [network] = proxyshop.parse_networks(DOC_NETWORKS)
    assert (network.id, network.network_label, network.country) == ("b1c2d3e4f5g6h7j8k9m0n1p2", "DE-BER Berlin", "DE")


def test_the_documented_purchase_example_with_subscriptions_parses():
    result = proxyshop.parse_purchase(DOC_PURCHASE)
    assert result.subscription_ids == ("j97b2f6m1k4n8p3r5t7v9x0z", "n38k2f6m1k4n8p3r5t7v9x0z")
    assert [sub.label for sub in result.subscriptions] == ["12001 - NL - Private", "12002 - NL - Private"]
    # Purchase items may leave out what only the subscriptions list carries.
    assert result.subscriptions[0].credentials is None
    assert result.subscriptions[0].protocols is None
    assert result.subscriptions[0].rotate is None
    assert result.subscriptions[0].active_until == dt.datetime(2026, 1, 7, 8, 53, 20, tzinfo=dt.UTC)


def test_a_purchase_answer_with_a_single_subscription_parses():
    result = proxyshop.parse_purchase(DOC_PURCHASE_SINGLE)
    assert result.subscription_ids == ("j97b2f6m1k4n8p3r5t7v9x0z",)
    assert [sub.id for sub in result.subscriptions] == ["j97b2f6m1k4n8p3r5t7v9x0z"]


def test_the_documented_renew_change_credentials_and_switch_network_examples_parse():
    renewed = proxyshop.parse_renew(DOC_RENEW)
    assert renewed.end_at == dt.datetime(2026, 2, 6, 8, 53, 20, tzinfo=dt.UTC)
    changed = proxyshop.parse_change_credentials(DOC_CHANGE_CREDENTIALS)
    assert (changed.password, changed.vpn) == ("q7N3x9Lp", "7f3d9d4a-8b9f-4a93-9f55-2d5e3b7f1c24")
    switched = proxyshop.parse_switch_network(DOC_SWITCH_NETWORK)
    assert (switched.label, switched.network_label) == ("12001 - DE - Private", "DE-BER Berlin")


def test_it_tolerates_extra_fields():
    body = copy.deepcopy(DOC_SUBSCRIPTIONS)
    body["requestId"] = "r1"
    body["subscriptions"][0]["currentIp"] = "203.0.113.9"
    body["subscriptions"][0]["rotate"]["nextRotationAt"] = 1762592000000
    [sub] = proxyshop.parse_subscriptions(body)
    assert sub.raw["currentIp"] == "203.0.113.9"


def _broken(body, path, value):
    broken = copy.deepcopy(body)
    target = broken
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return broken


@pytest.mark.parametrize(
    ("parse", "body"),
    [
        (proxyshop.parse_plans, {"ok": False, "error": "Internal error", "plans": []}),
        (proxyshop.parse_plans, {"plans": []}),
        (proxyshop.parse_plans, {"ok": "true", "plans": []}),
        (proxyshop.parse_plans, ["not", "an", "object"]),
        (proxyshop.parse_plans, None),
        (proxyshop.parse_plans, _broken(DOC_PLANS, ["plans"], {"id": "x"})),
        (proxyshop.parse_plans, _broken(DOC_PLANS, ["plans", 0, "id"], KeyError)),
        (proxyshop.parse_plans, _broken(DOC_PLANS, ["plans", 0, "durationMs"], "thirty days")),
        (proxyshop.parse_plans, _broken(DOC_PLANS, ["plans", 0, "priceAmountCents"], 12.5)),
        (proxyshop.parse_plans, _broken(DOC_PLANS, ["plans", 0, "network"], KeyError)),
        (proxyshop.parse_subscriptions, _broken(DOC_SUBSCRIPTIONS, ["subscriptions", 0, "activeUntil"], KeyError)),
        (proxyshop.parse_subscriptions, _broken(DOC_SUBSCRIPTIONS, ["subscriptions", 0, "credentials"], "u:p")),
        (proxyshop.parse_subscriptions, _broken(DOC_SUBSCRIPTIONS, ["subscriptions", 0, "rotate", "available"], 1)),
        (proxyshop.parse_renewal_plans, _broken(DOC_RENEWAL_PLANS, ["renewalPlans"], KeyError)),
        (proxyshop.parse_networks, _broken(DOC_NETWORKS, ["networks", 0, "country"], KeyError)),
        (proxyshop.parse_purchase, _broken(DOC_PURCHASE, ["subscriptions"], KeyError)),
        (proxyshop.parse_purchase, _broken(DOC_PURCHASE_SINGLE, ["subscription"], [])),
        (proxyshop.parse_purchase, _broken(DOC_PURCHASE, ["subscriptionIds"], [1, 2])),
        (proxyshop.parse_purchase, {"ok": True, "subscriptions": []}),
        (proxyshop.parse_renew, _broken(DOC_RENEW, ["endAt"], True)),
        (proxyshop.parse_change_credentials, _broken(DOC_CHANGE_CREDENTIALS, ["vpn"], KeyError)),
        (proxyshop.parse_switch_network, _broken(DOC_SWITCH_NETWORK, ["subscription"], KeyError)),
    ],
)
def test_it_refuses_malformed_answers(parse, body):
    with pytest.raises(errors.MalformedResponseError):
        parse(body)


def test_a_200_saying_ok_false_is_malformed_and_keeps_the_message():
    with pytest.raises(errors.MalformedResponseError, match="Internal error") as caught:
        proxyshop.parse_renew({"ok": False, "error": "Internal error"})
    assert caught.value.operation == "renew"
