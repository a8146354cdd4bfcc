"""The iProxy twin as any HTTP caller sees it: auth, raw validation, state rules, determinism, control hooks."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from integrations.iproxy import rules
from providers.sandbox import SandboxApp
from tests.providers.test_iproxy_rules import EDGE_IDS, SETTINGS_EDGES

AUTH = {"Authorization": "Bearer sandbox-key"}


def api(sandbox, method, path, body=None, headers=AUTH, params=None):
    url = f"{sandbox.base_url('iproxy')}{path}"
    return requests.request(method, url, json=body, headers=headers, params=params, timeout=5)


def demo_id(sandbox, name):
    sim = sandbox.app.provider("iproxy")
    return next(c.id for c in sim.connections.values() if c.name == name)


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "sandbox-key"}], ids=["none", "wrong", "bare"]
)
def test_it_answers_401_without_the_key(sandbox, headers):
    response = api(sandbox, "GET", "/me", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"message": "invalid or missing API key"}


def test_a_new_key_works_the_old_one_does_not_and_reset_restores_it(sandbox):
    new_key = api(sandbox, "POST", "/me/api-key").json()["api_key"]
    assert api(sandbox, "GET", "/me").status_code == 401
    assert api(sandbox, "GET", "/me", headers={"Authorization": f"Bearer {new_key}"}).status_code == 200
    sandbox.control("reset")
    assert api(sandbox, "GET", "/me").status_code == 200


def test_the_balance_is_set_by_the_control_endpoint(sandbox):
    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 1589})
    assert api(sandbox, "GET", "/me").json()["balance"] == "15.89"


@pytest.mark.parametrize(("name", "edge", "past"), SETTINGS_EDGES, ids=EDGE_IDS)
def test_the_twin_refuses_each_raw_setting_past_its_edge(sandbox, name, edge, past):
    cid = demo_id(sandbox, "online with plan")
    response = api(sandbox, "POST", f"/connections/{cid}/update-settings", {name: past})
    assert response.status_code == 400
    assert name in response.json()["message"]
    assert api(sandbox, "POST", f"/connections/{cid}/update-settings", {name: edge}).status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/connections", {"name": "x", "country": "us", "city": "nyc", "server_id": "vip-nl-ams-1"}),
        ("/connections", {"name": "x", "country": "zz", "city": "nowhere"}),
        ("/connections/{cid}/proxy-access", {"listen_service": "http", "auth_type": "noauth"}),
        (
            "/connections/{cid}/proxy-access",
            {"listen_service": "http", "auth_type": "noauth", "acl_inbound_policy": "deny_except"},
        ),
        ("/connections/{cid}/actionlinks", {"action": "refresh"}),
        ("/connection/{cid}/command-push", {"action": "self_destruct"}),
        ("/connection/{cid}/command-push", {"action": "toggle_proxy"}),
        ("/connections/{cid}/team-access/modify", {"email": "a@example.com", "permissions": {"root": True}}),
        ("/connections/{cid}/update-basic-info", {"name": "x" * 257}),
        ("/me/update-basic-info", {"telegram": ""}),
        ("/connections/{cid}/change-plan", {"plan_id": "gold-365"}),
        ("/connections/{cid}/ovpn-access", {"description": "no name"}),
    ],
)
def test_the_twin_refuses_raw_requests_that_break_a_rule(sandbox, path, body):
    cid = demo_id(sandbox, "online with plan")
    response = api(sandbox, "POST", path.format(cid=cid), body)
    assert response.status_code == 400
    assert response.json()["message"]


def test_the_twin_takes_the_documented_command_push_example(sandbox):
    cid = demo_id(sandbox, "online with plan")
    url = f"{sandbox.base_url('iproxy')}/connection/{cid}/command-push"
    # As in the document's curl: no Content-Type, and an empty `<command_name>_params`.
    response = requests.post(url, data='{"action":"reboot", "reboot_params": {}}', headers=AUTH, timeout=5)
    assert response.json() == {"message": "reboot command has been sent"}
    refused = api(sandbox, "POST", f"/connection/{cid}/command-push", {"action": "reboot", "reboot_params": {"x": 1}})
    assert refused.status_code == 400


def test_an_inbound_ip_list_without_a_policy_is_kept(sandbox):
    cid = demo_id(sandbox, "online with plan")
    body = {"listen_service": "http", "auth_type": "userpass", "acl_inbound_ips": ["203.0.113.9"]}
    created = api(sandbox, "POST", f"/connections/{cid}/proxy-access", body).json()
    assert (created["acl_inbound_policy"], created["acl_inbound_ips"]) == ("deny_except", ["203.0.113.9"])


@pytest.mark.parametrize("zero", [rules.ZERO_TIME, "0001-01-01T00:00:00.000Z", "0001-01-01T00:00:00+00:00"])
def test_the_zero_time_clears_a_proxy_expiry_however_it_is_written(sandbox, zero):
    cid = demo_id(sandbox, "offline with plan")
    (proxy,) = api(sandbox, "GET", f"/connections/{cid}/proxy-access").json()["proxy_accesses"]
    assert "expires_at" in proxy
    updated = api(sandbox, "POST", f"/connections/{cid}/proxy-access/{proxy['id']}/update", {"expires_at": zero})
    assert "expires_at" not in updated.json()


def test_action_links_are_filtered_by_action(sandbox):
    cid = demo_id(sandbox, "online with plan")
    links = api(sandbox, "GET", f"/connections/{cid}/actionlinks", params={"action": "changeip"}).json()
    assert [link["action"] for link in links["action_links"]] == ["changeip"]
    assert api(sandbox, "GET", "/actionlinks", params={"action": "refresh"}).status_code == 400


def test_the_twin_refuses_a_body_that_is_not_json(sandbox):
    url = f"{sandbox.base_url('iproxy')}/connections"
    response = requests.post(url, data="{nope", headers=AUTH, timeout=5)
    assert response.status_code == 400
    assert "message" in response.json()


def test_prolongation_days_must_be_a_multiple_of_30(sandbox):
    cid = demo_id(sandbox, "online with plan")
    plan = api(sandbox, "GET", f"/connections/{cid}").json()["plan_info"]["active_plan"]
    refused = api(sandbox, "POST", f"/connections/{cid}/prolongate-plan", {"active_plan": plan, "days": 45})
    assert refused.status_code == 400
    assert "multiple of the plan's 30 days" in refused.json()["message"]
    stale = {**plan, "id": "someone-elses"}
    assert (
        api(sandbox, "POST", f"/connections/{cid}/prolongate-plan", {"active_plan": stale, "days": 30}).status_code
        == 400
    )


def test_it_refuses_a_prolongation_the_balance_cannot_pay(sandbox):
    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 100})
    cid = demo_id(sandbox, "online with plan")
    plan = api(sandbox, "GET", f"/connections/{cid}").json()["plan_info"]["active_plan"]
    response = api(sandbox, "POST", f"/connections/{cid}/prolongate-plan", {"active_plan": plan, "days": 30})
    assert (response.status_code, response.json()["message"]) == (400, "insufficient balance")


def test_delete_answers_409_with_an_active_plan_and_works_once_it_expired(sandbox):
    cid = demo_id(sandbox, "offline with plan")
    response = api(sandbox, "DELETE", f"/connections/{cid}", {"reason": "does_not_need"})
    assert response.status_code == 409
    assert "recreate" in response.json()["message"]
    sandbox.control("clock", {"advance_seconds": 6 * 86400})
    assert api(sandbox, "DELETE", f"/connections/{cid}", {"reason": "does_not_need"}).json() == {"id": cid}
    assert api(sandbox, "GET", f"/connections/{cid}").status_code == 404


def test_unknown_things_answer_404_and_wrong_methods_405(sandbox):
    assert api(sandbox, "GET", "/connections/nope").json() == {"message": "connection not found"}
    assert api(sandbox, "GET", "/nowhere").status_code == 404
    assert api(sandbox, "PUT", "/connections").status_code == 405


def test_the_demo_data_is_the_same_for_the_same_seed():
    def snapshot(app):
        sim = app.provider("iproxy")
        return (sorted(sim.connections), sorted(sim.proxies), sorted(sim.ovpns), sorted(sim.links))

    assert snapshot(SandboxApp(seed=1)) == snapshot(SandboxApp(seed=1))
    assert snapshot(SandboxApp(seed=1)) != snapshot(SandboxApp(seed=2))


def test_the_demo_covers_every_status_and_plan_state(sandbox):
    statuses = {c["online_status"] for c in api(sandbox, "GET", "/connections-status").json()["connections"]}
    assert statuses == {"online", "offline", "flapping", "nodata"}
    connections = api(sandbox, "GET", "/connections").json()["connections"]
    assert sum("plan_info" in c for c in connections) == 2
    for connection in connections:
        if "plan_info" in connection:
            plan = connection["plan_info"]["active_plan"]
            span = dt.datetime.fromisoformat(plan["expires_at"]) - dt.datetime.fromisoformat(plan["started_at"])
            assert span == dt.timedelta(days=30)


def test_statistics_are_derived_the_same_for_any_range(sandbox):
    cid = demo_id(sandbox, "online with plan")
    params = {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00+03:00"}
    whole = api(sandbox, "GET", f"/connections/{cid}/uptime", params=params).json()["uptime"]
    assert 80 * 24 <= len(whole) <= 92 * 24  # the demo phone is about 90 days old
    again = api(sandbox, "GET", f"/connections/{cid}/uptime", params=params).json()["uptime"]
    assert whole == again
    assert api(sandbox, "GET", f"/connections/{cid}/ip-history", params=params).json()["ip_history"]
    past = {"from": "2001-01-01T00:00:00Z", "to": "2001-02-01T00:00:00Z"}
    assert api(sandbox, "GET", f"/connections/{cid}/traffic/by-day", params=past).json()["daily_stats"] == []


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"from": "yesterday", "to": "2025-01-01T00:00:00Z"},
        {"from": "2025-02-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"},
    ],
)
def test_statistics_need_an_rfc3339_range(sandbox, params):
    cid = demo_id(sandbox, "online with plan")
    assert api(sandbox, "GET", f"/connections/{cid}/ip-history", params=params).status_code == 400


def test_an_invalid_time_zone_means_utc(sandbox):
    cid = demo_id(sandbox, "online with plan")
    params = {"from": "2025-07-01T00:00:00Z", "to": "2100-01-01T00:00:00Z", "timezone": "Mars/Olympus"}
    days = api(sandbox, "GET", f"/connections/{cid}/traffic/by-day", params=params).json()["daily_stats"]
    assert days and all(day["date"].endswith("T00:00:00Z") for day in days)


def test_action_links_are_full_urls_that_work_without_auth(sandbox):
    links = api(sandbox, "GET", "/actionlinks").json()["action_links"]
    link = next(link for link in links if link["action"] == "reboot")
    assert link["link"] == f"{sandbox.root}/iproxy/actionlinks/do/reboot/{link['id']}"
    response = requests.get(link["link"], timeout=5)
    assert response.json() == {"message": "reboot command has been sent"}
    wrong_action = link["link"].replace("/do/reboot/", "/do/changeip/")
    assert requests.get(wrong_action, timeout=5).status_code == 404
    assert link["id"] not in requests.get(wrong_action, timeout=5).text


def test_a_recreated_connection_gets_a_new_id_and_keeps_the_plan(sandbox):
    cid = demo_id(sandbox, "online with plan")
    body = {"connection_id": cid, "name": "moved", "server_id": "srv-us-nyc-1"}
    response = api(sandbox, "POST", "/recreate-connection", body)
    assert response.status_code == 201
    new = api(sandbox, "GET", f"/connections/{response.json()['id']}").json()
    assert "plan_info" in new and new["basic_info"]["server_geo"] == {"country": "us", "city": "nyc"}
    assert api(sandbox, "GET", f"/connections/{cid}/proxy-access").status_code == 404


def test_team_members_get_every_documented_permission(sandbox):
    cid = demo_id(sandbox, "online with plan")
    body = {"email": "new@example.com", "permissions": {"sms_control": True}}
    permissions = api(sandbox, "POST", f"/connections/{cid}/team-access/modify", body).json()["permissions"]
    assert set(permissions) == set(rules.TEAM_PERMISSIONS) and permissions["sms_control"] is True


def test_an_injected_fault_answers_in_the_iproxy_error_shape(sandbox):
    sandbox.control("faults", {"rules": [{"provider": "iproxy", "match": "GET /me", "kind": "status", "status": 503}]})
    response = api(sandbox, "GET", "/me")
    assert response.status_code == 503
    assert "message" in response.json()


def test_the_status_control_endpoint_refuses_unknown_connections(sandbox):
    with pytest.raises(requests.HTTPError):
        sandbox.control("connection-status", {"connection_id": "nope", "online_status": "online"})
