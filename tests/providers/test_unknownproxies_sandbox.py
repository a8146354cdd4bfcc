"""The Unknown Proxies sandbox twin: the documented rules with raw HTTP, state that follows clock and usage."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
import requests

from integrations.unknownproxies.client import Client
from integrations.unknownproxies.rules import GB
from providers.http import errors
from providers.sandbox import SandboxApp
from providers.sandbox.core import Clock

AUTH = ("sandbox", "sandbox-pass")
STILL_NOW = 1_760_000_000
ALNUM = re.compile(r"[A-Za-z0-9]+")
# The key sets of the documents' response examples (001/002 residential, 000 ISP).
RESI_KEYS = {
    "token", "username", "authType", "password", "durationHours", "status", "createdAt", "updatedAt",
    "dataUsage", "dataLimit", "allowedPools",
}  # fmt: skip
ISP_KEYS = {
    "token", "username", "authType", "password", "proxyType", "authenticatedIps", "proxies", "durationHours",
    "status", "createdAt", "updatedAt", "dataUsage", "region", "product", "quantity",
}  # fmt: skip
ISP_BODY = {
    "region": "US",
    "product": "TICK",
    "quantity": 1,
    "proxyType": "http",
    "authType": "user",
    "durationHours": 0,
}


@pytest.fixture(autouse=True)
def whole_second_clock(monkeypatch):
    """Hold the sandbox clock still at a whole second, moved only by `/_sandbox/clock`.

    Tokens store createdAt in whole seconds; on the wall clock a test that advances to one second
    before a boundary fails whenever the real time crosses into the next second meanwhile.
    """
    monkeypatch.setattr(Clock, "now", lambda self: STILL_NOW + self.offset)


@pytest.fixture
def api(sandbox):
    """Send one raw request to the twin: api("POST", "/resi/token/create", json={...})."""
    base = sandbox.base_url("unknownproxies")

    def send(method: str, path: str, *, auth=AUTH, **kwargs) -> requests.Response:
        return requests.request(method, base + path, auth=auth, timeout=5, **kwargs)

    return send


@pytest.fixture
def client(sandbox):
    return Client(sandbox.base_url("unknownproxies"), *AUTH, sleep=lambda seconds: None)


def advance(sandbox, seconds: int) -> dt.datetime:
    now = sandbox.control("clock", {"advance_seconds": seconds})["now"]
    return dt.datetime.fromtimestamp(now, tz=dt.UTC)


def now(sandbox) -> dt.datetime:
    return dt.datetime.fromtimestamp(sandbox.control("clock", method="GET")["now"], tz=dt.UTC)


# Authentication and routing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth", [None, ("sandbox", "wrong"), ("someone", "sandbox-pass")], ids=["none", "password", "user"]
)
def test_it_answers_401_without_the_sandbox_credentials(api, auth):
    response = api("GET", "/resi/tokens", auth=auth)
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid credentials"}


def test_it_answers_401_for_a_bearer_token(api):
    response = api("GET", "/resi/tokens", auth=None, headers={"Authorization": "Bearer sandbox-pass"})
    assert response.status_code == 401


def test_it_answers_404_for_an_unknown_path_and_405_for_a_wrong_method(api):
    assert api("GET", "/resi/nothing").status_code == 404
    response = api("DELETE", "/resi/token", json={"token": "resiActive01"})
    assert response.status_code == 405
    assert response.json() == {"error": "DELETE is not allowed on /resi/token"}


@pytest.mark.parametrize(
    ("data", "message"), [(b"{not json", "Invalid JSON body"), (b"[1]", "the body must be a JSON object")]
)
def test_it_refuses_a_body_that_is_not_a_json_object(api, data, message):
    response = api("POST", "/resi/token/create", data=data, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"error": message}


# The same rules, enforced by the twin -----------------------------------------------------------------------

REFUSED = [
    ("POST", "/resi/token/create", {"dataLimit": GB - 1}, "dataLimit: must be at least 1,000,000,000 bytes (1 GB)"),
    (
        "POST",
        "/resi/token/create",
        {"dataLimit": GB + GB // 2},
        "dataLimit: must be a whole number of gigabytes (a multiple of 1,000,000,000 bytes)",
    ),
    ("POST", "/resi/token/create", {}, "dataLimit: must be a whole number of bytes"),
    ("POST", "/resi/token/create", {"dataLimit": "1000000000"}, "dataLimit: must be a whole number of bytes"),
    (
        "POST",
        "/resi/token/create",
        {"dataLimit": GB, "durationHours": 87_601},
        "durationHours: must be between 0 and 87600 hours (10 years)",
    ),
    (
        "POST",
        "/resi/token/create",
        {"dataLimit": GB, "durationHours": -1},
        "durationHours: must be between 0 and 87600 hours (10 years)",
    ),
    (
        "POST",
        "/resi/token/create",
        {"dataLimit": GB, "username": "abcd123"},
        "username: must be exactly 8 letters or digits",
    ),
    (
        "POST",
        "/resi/token/create",
        {"dataLimit": GB, "username": "abcd12345"},
        "username: must be exactly 8 letters or digits",
    ),
    (
        "POST",
        "/resi/token/create",
        {"dataLimit": GB, "username": "abcd-123"},
        "username: must be exactly 8 letters or digits",
    ),
    (
        "POST",
        "/resi/token/create",
        {"dataLimit": GB, "password": "abcd1234"},
        "password: is generated by the provider and cannot be set",
    ),
    (
        "PATCH",
        "/resi/token",
        {"token": "resiActive01"},
        "give at least one field to change: allowedPools, dataLimit or durationHours",
    ),
    (
        "PATCH",
        "/resi/token",
        {"token": "resiActive01", "durationHours": 10, "password": "abcd1234"},
        "password: cannot be modified on a residential token",
    ),
    (
        "PATCH",
        "/resi/token",
        {"token": "resiActive01", "dataLimit": 99 * GB},
        "dataLimit: cannot be lowered below the current limit of 100,000,000,000 bytes",
    ),
    (
        "PATCH",
        "/resi/token",
        {"token": "resiActive01", "dataLimit": 100 * GB + 1},
        "dataLimit: must be a whole number of gigabytes (a multiple of 1,000,000,000 bytes)",
    ),
    (
        "PATCH",
        "/resi/token",
        {"token": "resiActive01", "durationHours": 87_601},
        "durationHours: must be between 0 and 87600 hours (10 years)",
    ),
    (
        "PATCH",
        "/resi/token",
        {"token": "resiActive01", "allowedPools": ["us-s", "mars-x"]},
        "allowedPools: unknown pool 'mars-x'; known pools: "
        "ca-r, ca-s, gb-r, gb-s, tickets-us-r, tickets-us-s, us-r, us-s",
    ),
    ("PATCH", "/resi/token", {"durationHours": 10}, "token: is required"),
    ("POST", "/isp/token/create", {**ISP_BODY, "quantity": 0}, "quantity: must be a whole number between 1 and 1000"),
    ("POST", "/isp/token/create", {**ISP_BODY, "proxyType": "https"}, 'proxyType: must be "http" or "socks"'),
    ("POST", "/isp/token/create", {**ISP_BODY, "authType": "key"}, 'authType: must be "user" or "ip"'),
    ("POST", "/isp/token/create", {**ISP_BODY, "region": ""}, "region: is required"),
    (
        "PATCH",
        "/isp/token",
        {"token": "ispActive001"},
        "give at least one field to change: authType, authenticatedIps, proxyType, username or password",
    ),
    ("PATCH", "/isp/token", {"token": "ispActive001", "authType": "key"}, 'authType: must be "user" or "ip"'),
    ("PATCH", "/isp/token", {"token": "ispActive001", "proxyType": "socks5"}, 'proxyType: must be "http" or "socks"'),
    (
        "PATCH",
        "/isp/token",
        {"token": "ispActive001", "authenticatedIps": ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4", "1.1.1.5"]},
        "authenticatedIps: at most 4 addresses are allowed",
    ),
    (
        "PATCH",
        "/isp/token",
        {"token": "ispActive001", "authenticatedIps": ["256.0.0.1"]},
        "authenticatedIps: '256.0.0.1' is not an IPv4 address",
    ),
    (
        "PATCH",
        "/isp/token",
        {"token": "ispActive001", "username": "abc"},
        "username: must be 4 to 12 letters or digits",
    ),
    (
        "PATCH",
        "/isp/token",
        {"token": "ispActive001", "username": "a" * 13},
        "username: must be 4 to 12 letters or digits",
    ),
    (
        "PATCH",
        "/isp/token",
        {"token": "ispActive001", "password": "abc"},
        "password: must be 4 to 12 letters or digits",
    ),
    (
        "PATCH",
        "/isp/token",
        {"token": "ispActive001", "password": "a" * 13},
        "password: must be 4 to 12 letters or digits",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "message"), REFUSED)
def test_it_answers_400_for_a_broken_rule(api, method, path, body, message):
    response = api(method, path, json=body)
    assert response.status_code == 400
    assert response.json() == {"error": message}


ACCEPTED = [
    ("POST", "/resi/token/create", {"dataLimit": GB}, {"dataLimit": GB}),
    ("POST", "/resi/token/create", {"dataLimit": GB, "durationHours": 87_600}, {"durationHours": 87_600}),
    ("POST", "/resi/token/create", {"dataLimit": GB, "durationHours": 0}, {"durationHours": 0}),
    ("POST", "/resi/token/create", {"dataLimit": GB, "username": "Edge1234"}, {"username": "Edge1234"}),
    ("PATCH", "/resi/token", {"token": "resiActive01", "dataLimit": 100 * GB}, {"dataLimit": 100 * GB}),
    ("PATCH", "/resi/token", {"token": "resiActive01", "dataLimit": 101 * GB}, {"dataLimit": 101 * GB}),
    ("PATCH", "/resi/token", {"token": "resiActive01", "durationHours": 87_600}, {"durationHours": 87_600}),
    ("PATCH", "/resi/token", {"token": "resiActive01", "allowedPools": []}, {"allowedPools": []}),
    ("PATCH", "/resi/token", {"token": "resiActive01", "allowedPools": ["gb-s"]}, {"allowedPools": ["gb-s"]}),
    ("POST", "/isp/token/create", {**ISP_BODY, "quantity": 1000}, {"quantity": 1000}),
    ("POST", "/isp/token/create", {**ISP_BODY, "durationHours": 87_600}, {"durationHours": 87_600}),
    ("PATCH", "/isp/token", {"token": "ispActive001", "username": "abcd"}, {"username": "abcd"}),
    ("PATCH", "/isp/token", {"token": "ispActive001", "username": "a" * 12}, {"username": "a" * 12}),
    ("PATCH", "/isp/token", {"token": "ispActive001", "password": "wxyz"}, {"password": "wxyz"}),
    ("PATCH", "/isp/token", {"token": "ispActive001", "password": "W" * 12}, {"password": "W" * 12}),
    (
        "PATCH",
        "/isp/token",
        {"token": "ispIpAuth001", "authenticatedIps": ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"]},
        {"authenticatedIps": ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"]},
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), ACCEPTED)
def test_it_accepts_each_rule_at_its_edge(api, method, path, body, expected):
    response = api(method, path, json=body)
    assert response.status_code == 200, response.text
    assert expected.items() <= response.json().items()


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/resi/token", {"params": {"token": "nosuchtoken1"}}),
        ("PATCH", "/resi/token", {"json": {"token": "nosuchtoken1", "durationHours": 1}}),
        ("GET", "/isp/token", {"params": {"token": "nosuchtoken1"}}),
        ("PATCH", "/isp/token", {"json": {"token": "nosuchtoken1", "proxyType": "socks"}}),
    ],
)
def test_it_answers_404_for_an_unknown_token(api, method, path, kwargs):
    response = api(method, path, **kwargs)
    assert response.status_code == 404
    assert response.json() == {"error": "Token not found"}


def test_it_answers_400_for_a_get_without_a_token(api):
    response = api("GET", "/resi/token")
    assert response.status_code == 400
    assert response.json() == {"error": "token: is required"}


def test_it_answers_409_for_modifying_a_processing_isp_token(api):
    response = api("PATCH", "/isp/token", json={"token": "ispProcess01", "proxyType": "socks"})
    assert response.status_code == 409
    assert response.json() == {"error": "only active tokens can be modified; this one is processing"}


# Shapes and creation ------------------------------------------------------------------------------------------


def test_it_answers_with_the_documented_token_shapes(api):
    assert set(api("GET", "/resi/token", params={"token": "resiActive01"}).json()) == RESI_KEYS
    assert set(api("GET", "/isp/token", params={"token": "ispActive001"}).json()) == ISP_KEYS
    assert all(set(item) == RESI_KEYS for item in api("GET", "/resi/tokens").json()["tokens"])
    assert all(set(item) == ISP_KEYS for item in api("GET", "/isp/tokens").json()["tokens"])


def test_it_lists_the_pools(api):
    pools = api("GET", "/resi/pools").json()["pools"]
    assert [pool["id"] for pool in pools] == [
        "us-s",
        "us-r",
        "tickets-us-s",
        "tickets-us-r",
        "ca-s",
        "ca-r",
        "gb-s",
        "gb-r",
    ]
    assert pools[0] == {"id": "us-s", "name": "United States, sticky"}


def test_it_creates_a_residential_token_with_generated_credentials(sandbox, api):
    body = api("POST", "/resi/token/create", json={"dataLimit": 5 * GB}).json()
    assert ALNUM.fullmatch(body["username"]) and len(body["username"]) == 8
    assert ALNUM.fullmatch(body["password"]) and len(body["password"]) == 8
    assert ALNUM.fullmatch(body["token"]) and len(body["token"]) == 12
    assert body["status"] == "active"
    assert body["allowedPools"] == []
    assert body["durationHours"] == 0
    assert body["dataUsage"] == 0
    assert body["createdAt"] == body["updatedAt"] == sandbox.control("clock", method="GET")["now"]
    assert api("GET", "/resi/token", params={"token": body["token"]}).json() == body


@pytest.mark.parametrize(("auth_type", "ips"), [("user", []), ("ip", ["1.1.1.1"])])
def test_it_creates_an_isp_token_processing_with_generated_credentials(api, auth_type, ips):
    body = api("POST", "/isp/token/create", json={**ISP_BODY, "authType": auth_type, "quantity": 3}).json()
    assert body["status"] == "processing"
    assert body["authenticatedIps"] == ips
    assert len(body["proxies"]) == 3
    assert all(re.fullmatch(r"\d+\.\d+\.\d+\.\d+:\d+", proxy) for proxy in body["proxies"])
    for name in ("username", "password"):
        assert ALNUM.fullmatch(body[name]) and 4 <= len(body[name]) <= 12


# Demo data ----------------------------------------------------------------------------------------------------


def test_the_demo_data_has_tokens_in_every_state(client):
    resi = {token.token: (token.username, token.status) for token in client.list_resi_tokens()}
    assert resi == {
        "resiActive01": ("demoAct1", "active"),
        "resiPools001": ("demoPool", "active"),
        "resiAlmost01": ("demoSoon", "active"),
        "resiExpTime1": ("demoExpT", "expired"),
        "resiExpData1": ("demoExpD", "expired"),
    }
    isp = {token.token: (token.username, token.status) for token in client.list_isp_tokens()}
    assert isp == {
        "ispActive001": ("demoIsp1", "active"),
        "ispIpAuth001": ("demoIsp2", "active"),
        "ispProcess01": ("demoIsp3", "processing"),
        "ispExpTime01": ("demoIsp4", "expired"),
    }
    assert client.get_resi_token("resiExpData1").data_remaining == 0
    assert client.get_resi_token("resiExpTime1").data_remaining > 0


def snapshot(app: SandboxApp) -> list[tuple]:
    sim = app.provider("unknownproxies")
    # Everything but the timestamps, which follow the wall clock at reset.
    resi = [(s.token, s.username, s.password, s.data_usage, s.data_limit) for s in sim.resi.values()]
    isp = [(s.token, s.username, s.password, tuple(s.proxies), s.data_usage) for s in sim.isp.values()]
    return resi + isp


def test_the_demo_data_is_deterministic_for_a_seed():
    assert snapshot(SandboxApp(seed=5)) == snapshot(SandboxApp(seed=5))
    assert snapshot(SandboxApp(seed=5)) != snapshot(SandboxApp(seed=6))


def test_reset_brings_the_demo_data_back(sandbox, client):
    client.create_resi_token(GB)
    client.modify_resi_token("resiActive01", data_limit=200 * GB)
    sandbox.control("reset", {"seed": 1})
    assert len(client.list_resi_tokens()) == 5
    assert client.get_resi_token("resiActive01").data_limit == 100 * GB


def test_it_builds_a_large_inventory_quickly_for_benchmarks():
    started = time.monotonic()
    app = SandboxApp(seed=3, tokens=100_000)
    elapsed = time.monotonic() - started
    sim = app.provider("unknownproxies")
    assert len(sim.resi) == 100_000 + 5
    assert elapsed < 10
    statuses = {state.status(app.clock.now()) for state in sim.resi.values()}
    assert statuses == {"active", "expired"}


# State over time and usage ------------------------------------------------------------------------------


def test_an_isp_token_becomes_active_ten_minutes_after_creation(sandbox, client):
    token = client.create_isp_token("US", "TICK", 1, "http", "user", 720)
    advance(sandbox, 599)
    assert client.get_isp_token(token.token).status == "processing"
    with pytest.raises(errors.ConflictError):
        client.modify_isp_token(token.token, proxy_type="socks")
    advance(sandbox, 1)
    assert client.get_isp_token(token.token).status == "active"
    assert client.modify_isp_token(token.token, proxy_type="socks").proxy_type == "socks"


def test_the_demo_processing_token_becomes_active_eight_minutes_later(sandbox, client):
    advance(sandbox, 8 * 60 - 1)
    assert client.get_isp_token("ispProcess01").status == "processing"
    advance(sandbox, 1)
    assert client.get_isp_token("ispProcess01").can_be_modified


def test_a_token_expires_by_time(sandbox, client):
    token = client.create_resi_token(GB, duration_hours=1)
    assert token.expires_at == token.created_at + dt.timedelta(hours=1)
    moment = advance(sandbox, 3599)
    fetched = client.get_resi_token(token.token)
    assert fetched.status == "active" and not fetched.is_expired(moment)
    moment = advance(sandbox, 1)
    fetched = client.get_resi_token(token.token)
    assert fetched.status == "expired" and fetched.is_expired(moment)


def test_an_isp_token_expires_by_time(sandbox, client):
    token = client.get_isp_token("ispActive001")
    moment = advance(sandbox, int((token.expires_at - now(sandbox)).total_seconds()))
    fetched = client.get_isp_token("ispActive001")
    assert fetched.status == "expired" and fetched.is_expired(moment)
    with pytest.raises(errors.ConflictError, match="this one is expired"):
        client.modify_isp_token("ispActive001", proxy_type="socks")


def test_a_token_expires_by_data(sandbox, client):
    token = client.create_resi_token(GB)
    sandbox.control("usage", {"token": token.token, "bytes": GB - 1})
    assert client.get_resi_token(token.token).status == "active"
    sandbox.control("usage", {"token": token.token, "bytes": 1})
    fetched = client.get_resi_token(token.token)
    assert fetched.status == "expired"
    assert fetched.data_usage == GB
    assert fetched.is_expired(now(sandbox))


def test_raising_the_data_limit_revives_a_token_out_of_data(client):
    assert client.get_resi_token("resiExpData1").status == "expired"
    assert client.modify_resi_token("resiExpData1", data_limit=2 * GB).status == "active"


def test_raising_the_duration_revives_a_token_expired_by_time(client):
    assert client.get_resi_token("resiExpTime1").status == "expired"
    revived = client.modify_resi_token("resiExpTime1", duration_hours=96)
    assert revived.status == "active"
    assert revived.expires_at == revived.created_at + dt.timedelta(hours=96)


def test_raising_the_duration_does_not_revive_a_token_out_of_data(client):
    assert client.modify_resi_token("resiExpData1", duration_hours=87_600).status == "expired"


def test_lowering_the_duration_can_expire_a_token_at_once(sandbox, client):
    # resiActive01 was created exactly ten days (240 hours) before the sandbox's reset.
    assert client.modify_resi_token("resiActive01", duration_hours=241).status == "active"
    lowered = client.modify_resi_token("resiActive01", duration_hours=240)
    assert lowered.status == "expired"
    assert lowered.is_expired(now(sandbox))


def test_it_adds_usage_to_residential_and_isp_tokens(sandbox, client):
    before = client.get_isp_token("ispActive001").data_usage
    sandbox.control("usage", {"token": "ispActive001", "bytes": 12345})
    sandbox.control("usage", {"token": "resiPools001", "bytes": 2 * GB})
    assert client.get_isp_token("ispActive001").data_usage == before + 12345
    assert client.get_resi_token("resiPools001").data_usage == 2 * GB


def test_it_answers_404_for_usage_on_an_unknown_token(sandbox):
    response = requests.post(f"{sandbox.root}/_sandbox/usage", json={"token": "nosuchtoken1", "bytes": 1}, timeout=5)
    assert response.status_code == 404


# ISP modify semantics ----------------------------------------------------------------------------------------


def test_an_empty_ip_list_under_ip_auth_becomes_the_default(client):
    assert client.modify_isp_token("ispIpAuth001", authenticated_ips=[]).authenticated_ips == ("1.1.1.1",)


def test_switching_to_ip_auth_keeps_the_credentials_and_defaults_the_ips(client):
    before = client.get_isp_token("ispActive001")
    after = client.modify_isp_token("ispActive001", auth_type="ip")
    assert after.auth_type == "ip"
    assert after.authenticated_ips == ("1.1.1.1",)
    assert (after.username, after.password) == (before.username, before.password)


def test_switching_to_ip_auth_with_addresses_uses_them(client):
    after = client.modify_isp_token("ispActive001", auth_type="ip", authenticated_ips=["203.0.113.9"])
    assert after.authenticated_ips == ("203.0.113.9",)


def test_an_empty_ip_list_under_user_auth_stays_empty(client):
    assert client.modify_isp_token("ispActive001", authenticated_ips=[]).authenticated_ips == ()


def test_a_modify_changes_only_what_it_names_and_moves_updated_at(sandbox, client):
    before = client.get_isp_token("ispActive001")
    advance(sandbox, 60)
    after = client.modify_isp_token("ispActive001", username="NewUser1", password="NewPass1", proxy_type="socks")
    assert (after.username, after.password, after.proxy_type) == ("NewUser1", "NewPass1", "socks")
    assert (after.auth_type, after.proxies, after.created_at) == (before.auth_type, before.proxies, before.created_at)
    assert after.updated_at >= before.updated_at + dt.timedelta(seconds=60)
