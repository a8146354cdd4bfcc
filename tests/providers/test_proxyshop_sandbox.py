"""The proxy shop's sandbox twin, seen as raw HTTP: auth, gateway errors, faults, rotate links and the clock."""

from __future__ import annotations

import pytest
import requests

from providers.sandbox import SandboxApp
from providers.sandbox.testing import sandbox_behind_responses

KEY = {"x-api-key": "rk_sandbox"}


@pytest.fixture
def api(sandbox):
    return sandbox.base_url("shop") + "/api/proxy"


def get(api, headers=KEY, **params):
    return requests.get(api, params=params, headers=headers, timeout=5)


def post(api, body, headers=KEY):
    return requests.post(api, json=body, headers=headers, timeout=5)


def subscription(api, sub_id):
    return next(s for s in get(api, op="subscriptions").json()["subscriptions"] if s["subscriptionId"] == sub_id)


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "rk_other"}, {"Authorization": "Bearer rk_sandbox"}])
def test_it_answers_401_without_the_demo_key(api, headers):
    response = get(api, headers=headers, op="plans")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error": "Unauthorized"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "Invalid JSON body"),
        (b"", "Invalid JSON body"),
        (b'["purchase"]', "Body must be an object"),
        (b"null", "Body must be an object"),
        (b"{}", "Missing or unknown op"),
        (b'{"op": "plans"}', "Missing or unknown op"),
        (b'{"op": "explode"}', "Missing or unknown op"),
        (b'{"op": 7}', "Missing or unknown op"),
    ],
)
def test_it_refuses_a_bad_post_body_with_the_documented_400(api, data, message):
    response = requests.post(api, data=data, headers={**KEY, "Content-Type": "application/json"}, timeout=5)
    assert response.status_code == 400
    assert response.json() == {"ok": False, "error": message}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "Missing or unknown op"),
        ({"op": "purchase"}, "Missing or unknown op"),
        ({"op": "renewal-plans"}, "Missing or invalid subscriptionId"),
        ({"op": "available-networks", "subscriptionId": "ABC"}, "Missing or invalid subscriptionId"),
    ],
)
def test_it_refuses_a_bad_query_with_the_documented_400(api, params, message):
    response = get(api, **params)
    assert response.status_code == 400
    assert response.json() == {"ok": False, "error": message}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"op": "purchase"}, "Missing or invalid planId"),
        ({"op": "purchase", "planId": "nlams30private", "repeatCount": "2"}, "Invalid repeatCount or quantity"),
        ({"op": "purchase", "planId": "nlams30private", "couponCode": 10}, "Missing or invalid couponCode"),
        ({"op": "renew", "subscriptionId": "subdestatic"}, "Missing or invalid planId"),
        ({"op": "change-credentials"}, "Missing or invalid subscriptionId"),
        ({"op": "set-rotation-policy", "subscriptionId": "subnlrotating"}, "Missing or invalid rotationPolicy"),
        ({"op": "switch-network", "subscriptionId": "subdestatic"}, "Missing or invalid targetNetwork"),
    ],
)
def test_it_refuses_missing_fields_with_the_documented_400(api, body, message):
    response = post(api, body)
    assert response.status_code == 400
    assert response.json() == {"ok": False, "error": message}


def test_it_answers_404_for_other_paths_and_405_for_other_methods(sandbox, api):
    assert requests.get(sandbox.base_url("shop") + "/api/other", headers=KEY, timeout=5).status_code == 404
    response = requests.delete(api, headers=KEY, timeout=5)
    assert response.status_code == 405
    assert response.json()["ok"] is False


def test_it_sets_the_balance_through_the_control_endpoint(sandbox, api):
    shop = sandbox.app.provider("shop")
    assert shop.balance_cents == 50_000
    sandbox.control("balance", {"provider": "shop", "amount_cents": 299})
    assert shop.balance_cents == 299
    response = post(api, {"op": "purchase", "planId": "nlams7shared"})
    assert response.status_code == 402
    assert response.json() == {"ok": False, "error": "Insufficient balance"}


def test_it_builds_the_same_demo_data_for_the_same_seed():
    def snapshot(seed):
        with sandbox_behind_responses(SandboxApp(seed=seed)) as installed:
            body = get(installed.base_url("shop") + "/api/proxy", op="subscriptions").json()
        # activeUntil follows the wall clock; everything else follows the seed.
        return [{k: v for k, v in sub.items() if k != "activeUntil"} for sub in body["subscriptions"]]

    assert snapshot(3) == snapshot(3)
    assert snapshot(3) != snapshot(4)


def test_the_demo_data_covers_every_state(api):
    plans = {plan["id"] for plan in get(api, op="plans").json()["plans"]}
    assert {"nlams30private", "nlams90private", "nlams7shared", "deber30private", "usnyc30private"} == plans
    subs = {s["subscriptionId"]: s for s in get(api, op="subscriptions").json()["subscriptions"]}
    assert subs["subnlrotating"]["rotate"]["available"] is True
    assert subs["subdestatic"]["rotate"]["available"] is False
    assert subs["subnlexpired"]["status"] == "expired"
    assert subs["subnlexpiring"]["status"] == "active"


def test_a_subscription_expires_by_the_sandbox_clock(sandbox, api):
    sandbox.control("clock", {"advance_seconds": 3 * 3600})
    assert subscription(api, "subnlexpiring")["status"] == "expired"
    response = post(api, {"op": "switch-network", "subscriptionId": "subnlexpiring", "targetNetwork": "netdeber"})
    assert response.status_code == 409
    assert "expired" in response.json()["error"]


# Rotation ------------------------------------------------------------------


def test_the_rotate_link_changes_the_ip_without_an_api_key(sandbox, api):
    before = subscription(api, "subnlrotating")
    link = sandbox.base_url("shop") + before["rotate"]["rotatePath"]
    response = requests.get(link, timeout=5)
    assert response.status_code == 200
    new_ip = response.json()["ip"]
    assert new_ip != before["currentIp"]
    assert subscription(api, "subnlrotating")["currentIp"] == new_ip
    assert requests.get(link, timeout=5).json()["ip"] not in (new_ip, before["currentIp"])


def test_the_rotate_link_of_an_expired_subscription_answers_409(sandbox, api):
    link = sandbox.base_url("shop") + subscription(api, "subnlexpired")["rotate"]["rotatePath"]
    response = requests.get(link, timeout=5)
    assert response.status_code == 409
    assert response.json()["ok"] is False


def test_an_unknown_rotate_link_answers_404(sandbox):
    assert requests.get(sandbox.base_url("shop") + "/r/nosuchlink", timeout=5).status_code == 404


def test_the_rotation_policy_rotates_the_ip_by_the_clock(sandbox, api):
    assert post(api, {"op": "set-rotation-policy", "subscriptionId": "subnlrotating", "rotationPolicy": 5}).json() == {
        "ok": True
    }
    first = subscription(api, "subnlrotating")["currentIp"]
    sandbox.control("clock", {"advance_seconds": 4 * 60})
    assert subscription(api, "subnlrotating")["currentIp"] == first
    sandbox.control("clock", {"advance_seconds": 2 * 60})
    assert subscription(api, "subnlrotating")["currentIp"] != first


def test_a_policy_of_zero_stops_the_rotation(sandbox, api):
    post(api, {"op": "set-rotation-policy", "subscriptionId": "subnlrotating", "rotationPolicy": 0})
    first = subscription(api, "subnlrotating")["currentIp"]
    sandbox.control("clock", {"advance_seconds": 3600})
    assert subscription(api, "subnlrotating")["currentIp"] == first


def test_switching_network_changes_the_label_and_the_ip_range(api):
    response = post(api, {"op": "switch-network", "subscriptionId": "subnlrotating", "targetNetwork": "netdeber"})
    switched = response.json()["subscription"]
    assert switched["label"] == "12001 - DE - Private"
    assert switched["currentIp"].startswith("198.51.100.")


# Purchases -----------------------------------------------------------------


def test_a_single_purchase_answers_subscription_and_several_answer_subscriptions(api):
    one = post(api, {"op": "purchase", "planId": "nlams7shared"}).json()
    assert set(one) == {"ok", "subscriptionId", "subscriptionIds", "subscription"}
    many = post(api, {"op": "purchase", "planId": "nlams7shared", "quantity": 2}).json()
    assert set(many) == {"ok", "subscriptionId", "subscriptionIds", "subscriptions"}
    assert [s["subscriptionId"] for s in many["subscriptions"]] == many["subscriptionIds"]
    assert many["subscriptionId"] == many["subscriptionIds"][0]


def test_new_subscriptions_get_lowercase_alphanumeric_ids_and_their_own_ports(api):
    body = post(api, {"op": "purchase", "planId": "nlams7shared", "quantity": 3}).json()
    assert all(sub_id.isalnum() and sub_id == sub_id.lower() for sub_id in body["subscriptionIds"])
    ports = [item["label"].split(" ")[0] for item in body["subscriptions"]]
    assert ports == ["12005", "12006", "12007"]


def test_a_trial_works_for_the_trial_key_only(api):
    refused = post(api, {"op": "trial", "planId": "nlams7shared"})
    assert refused.status_code == 403
    assert refused.json() == {"ok": False, "error": "Trial is not enabled for this API key"}
    granted = post(api, {"op": "trial", "planId": "nlams7shared"}, headers={"x-api-key": "rk_sandbox_trial"})
    assert granted.status_code == 200
    assert granted.json()["subscription"]["status"] == "active"


# Faults match the op ---------------------------------------------------------


def test_a_fault_rule_matches_the_op_of_a_post(sandbox, api):
    sandbox.control(
        "faults", {"rules": [{"provider": "shop", "match": "POST purchase", "kind": "status", "status": 500}]}
    )
    renew = post(api, {"op": "renew", "subscriptionId": "subdestatic", "planId": "deber30private"})
    assert renew.status_code == 200
    purchase = post(api, {"op": "purchase", "planId": "nlams7shared"})
    assert purchase.status_code == 500
    assert purchase.json() == {"ok": False, "error": "injected fault: HTTP 500"}


def test_a_fault_rule_matches_the_op_of_a_get(sandbox, api):
    sandbox.control(
        "faults",
        {"rules": [{"provider": "shop", "match": "GET plans", "kind": "rate_limit", "retry_after": 9, "times": 1}]},
    )
    assert get(api, op="subscriptions").status_code == 200
    limited = get(api, op="plans")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "9"
    assert limited.json() == {"ok": False, "error": "Rate limited"}
    assert get(api, op="plans").status_code == 200


def test_a_lapsed_subscription_renews_from_now_and_can_then_be_changed(sandbox, api):
    """README decision: renew works on an expired subscription; the other changes need an active one."""
    refused = post(api, {"op": "change-credentials", "subscriptionId": "subnlexpired"})
    assert refused.status_code == 409
    now_ms = sandbox.control("clock", method="GET")["now"] * 1000
    renewed = post(api, {"op": "renew", "subscriptionId": "subnlexpired", "planId": "nlams30private", "repeatCount": 2})
    assert renewed.status_code == 200
    assert abs(renewed.json()["endAt"] - (now_ms + 60 * 86_400_000)) < 5_000
    assert subscription(api, "subnlexpired")["status"] == "active"
    assert post(api, {"op": "change-credentials", "subscriptionId": "subnlexpired"}).status_code == 200
