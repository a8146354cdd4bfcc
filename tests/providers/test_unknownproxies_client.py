"""The Unknown Proxies client against its sandbox twin: rules before sending, errors, typed results."""

from __future__ import annotations

import datetime as dt

import pytest
import responses

from integrations.unknownproxies.client import Client, IspToken, Pool, ResiToken
from integrations.unknownproxies.rules import GB
from providers.http import errors
from tests.factories import RESI_UPSTREAM

# The documents' own response examples, copied verbatim.
ISP_MODIFY_EXAMPLE = {  # 000, PATCH /isp/token
    "token": "zu8sBXS4gkh7",
    "username": "kGyohRdaGo",
    "authType": "user",
    "password": "bkXBberMQ7",
    "proxyType": "http",
    "authenticatedIps": [],
    "proxies": ["123.123.123.123:12345", "123.123.111.111:8888"],
    "durationHours": 720,
    "status": "active",
    "createdAt": 1752251968,
    "updatedAt": 1754843968,
    "dataUsage": 11574848653,
    "region": "US",
    "product": "TICK",
    "quantity": 2,
}
RESI_MODIFY_EXAMPLE = {  # 001, PATCH /resi/token: the factories' token with every documented pool
    **RESI_UPSTREAM,
    "allowedPools": ["us-s", "us-r", "tickets-us-s", "tickets-us-r", "ca-s", "ca-r", "gb-s", "gb-r"],
}
RESI_CREATE_EXAMPLE = {  # 002, POST /resi/token/create
    "token": "zu8sBXS4gkh7",
    "username": "kGyohRda",
    "authType": "user",
    "password": "bkXBberMQ7",
    "durationHours": 0,
    "status": "active",
    "createdAt": 1752251968,
    "updatedAt": 1752251968,
    "dataUsage": 0,
    "dataLimit": 100000000000,
    "allowedPools": [],
}
CREATED = dt.datetime(2025, 7, 11, 16, 39, 28, tzinfo=dt.UTC)
ISP_CREATE = {"region": "US", "product": "TICK", "quantity": 1, "proxy_type": "http", "auth_type": "user"}


@pytest.fixture
def client(sandbox):
    return Client(sandbox.base_url("unknownproxies"), "sandbox", "sandbox-pass", sleep=lambda seconds: None)


def fault(sandbox, match: str, kind: str, **extra) -> None:
    sandbox.control("faults", {"rules": [{"provider": "unknownproxies", "match": match, "kind": kind, **extra}]})


# Refused before sending ---------------------------------------------------------------------------

REFUSED = [
    pytest.param(
        lambda c: c.create_resi_token(GB - 1),
        "dataLimit",
        "dataLimit: must be at least 1,000,000,000 bytes (1 GB)",
        id="data-limit-below-one-gb",
    ),
    pytest.param(
        lambda c: c.create_resi_token(GB + GB // 2),
        "dataLimit",
        "dataLimit: must be a whole number of gigabytes (a multiple of 1,000,000,000 bytes)",
        id="data-limit-not-whole-gigabytes",
    ),
    pytest.param(
        lambda c: c.create_resi_token(GB, duration_hours=87_601),
        "durationHours",
        "durationHours: must be between 0 and 87600 hours (10 years)",
        id="duration-past-ten-years",
    ),
    pytest.param(
        lambda c: c.create_resi_token(GB, duration_hours=-1),
        "durationHours",
        "durationHours: must be between 0 and 87600 hours (10 years)",
        id="negative-duration",
    ),
    pytest.param(
        lambda c: c.create_resi_token(GB, username="abcd123"),
        "username",
        "username: must be exactly 8 letters or digits",
        id="username-seven-characters",
    ),
    pytest.param(
        lambda c: c.create_resi_token(GB, username="abcd12345"),
        "username",
        "username: must be exactly 8 letters or digits",
        id="username-nine-characters",
    ),
    pytest.param(
        lambda c: c.create_resi_token(GB, username="abcd-123"),
        "username",
        "username: must be exactly 8 letters or digits",
        id="username-with-punctuation",
    ),
    pytest.param(
        lambda c: c.modify_resi_token("resiActive01"),
        None,
        "give at least one field to change: allowedPools, dataLimit or durationHours",
        id="resi-modify-nothing",
    ),
    pytest.param(
        lambda c: c.modify_resi_token("resiActive01", data_limit=99 * GB, current_data_limit=100 * GB),
        "dataLimit",
        "dataLimit: cannot be lowered below the current limit of 100,000,000,000 bytes",
        id="data-limit-below-current",
    ),
    pytest.param(
        lambda c: c.modify_resi_token("resiActive01", duration_hours=87_601),
        "durationHours",
        "durationHours: must be between 0 and 87600 hours (10 years)",
        id="resi-modify-duration-past-ten-years",
    ),
    pytest.param(lambda c: c.get_resi_token(""), "token", "token: is required", id="resi-get-without-token"),
    pytest.param(lambda c: c.get_isp_token(" "), "token", "token: is required", id="isp-get-without-token"),
    pytest.param(
        lambda c: c.create_isp_token(**{**ISP_CREATE, "quantity": 0}, duration_hours=720),
        "quantity",
        "quantity: must be a whole number between 1 and 1000",
        id="isp-quantity-zero",
    ),
    pytest.param(
        lambda c: c.create_isp_token(**{**ISP_CREATE, "proxy_type": "https"}, duration_hours=720),
        "proxyType",
        'proxyType: must be "http" or "socks"',
        id="isp-create-proxy-type",
    ),
    pytest.param(
        lambda c: c.create_isp_token(**{**ISP_CREATE, "auth_type": "key"}, duration_hours=720),
        "authType",
        'authType: must be "user" or "ip"',
        id="isp-create-auth-type",
    ),
    pytest.param(
        lambda c: c.create_isp_token(**ISP_CREATE, duration_hours=87_601),
        "durationHours",
        "durationHours: must be between 0 and 87600 hours (10 years)",
        id="isp-create-duration",
    ),
    pytest.param(
        lambda c: c.modify_isp_token("ispActive001"),
        None,
        "give at least one field to change: authType, authenticatedIps, proxyType, username or password",
        id="isp-modify-nothing",
    ),
    pytest.param(
        lambda c: c.modify_isp_token("ispActive001", auth_type="key"),
        "authType",
        'authType: must be "user" or "ip"',
        id="isp-auth-type",
    ),
    pytest.param(
        lambda c: c.modify_isp_token("ispActive001", proxy_type="socks5"),
        "proxyType",
        'proxyType: must be "http" or "socks"',
        id="isp-proxy-type",
    ),
    pytest.param(
        lambda c: c.modify_isp_token(
            "ispActive001", authenticated_ips=["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4", "1.1.1.5"]
        ),
        "authenticatedIps",
        "authenticatedIps: at most 4 addresses are allowed",
        id="five-ips",
    ),
    pytest.param(
        lambda c: c.modify_isp_token("ispActive001", authenticated_ips=["256.0.0.1"]),
        "authenticatedIps",
        "authenticatedIps: '256.0.0.1' is not an IPv4 address",
        id="not-ipv4",
    ),
    pytest.param(
        lambda c: c.modify_isp_token("ispActive001", username="abc"),
        "username",
        "username: must be 4 to 12 letters or digits",
        id="isp-username-three",
    ),
    pytest.param(
        lambda c: c.modify_isp_token("ispActive001", username="a" * 13),
        "username",
        "username: must be 4 to 12 letters or digits",
        id="isp-username-thirteen",
    ),
    pytest.param(
        lambda c: c.modify_isp_token("ispActive001", password="abc"),
        "password",
        "password: must be 4 to 12 letters or digits",
        id="isp-password-three",
    ),
    pytest.param(
        lambda c: c.modify_isp_token("ispActive001", password="abcdefghijk!"),
        "password",
        "password: must be 4 to 12 letters or digits",
        id="isp-password-punctuation",
    ),
]


@pytest.mark.parametrize(("call", "field", "message"), REFUSED)
def test_it_refuses_a_broken_rule_before_sending(sandbox, client, call, field, message):
    with pytest.raises(errors.InvalidRequestError) as caught:
        call(client)
    assert caught.value.message == message
    assert caught.value.field == field
    assert caught.value.status is None
    assert sandbox.calls() == []


def test_it_refuses_a_data_limit_below_one_gb(sandbox, client):
    with pytest.raises(errors.InvalidRequestError, match=r"at least 1,000,000,000 bytes"):
        client.create_resi_token(999_999_999)
    assert sandbox.calls() == []


def test_it_checks_allowed_pools_against_the_pool_list_before_modifying(sandbox, client):
    with pytest.raises(errors.InvalidRequestError) as caught:
        client.modify_resi_token("resiActive01", allowed_pools=["us-s", "mars-x"])
    assert caught.value.message.startswith("allowedPools: unknown pool 'mars-x'; known pools: ca-r, ca-s")
    assert len(sandbox.calls("GET", "/resi/pools")) == 1
    assert sandbox.calls("PATCH") == []


# Accepted at the edge ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "check"),
    [
        ({"data_limit": GB}, lambda t: t.data_limit == GB),
        ({"data_limit": 100 * GB, "duration_hours": 87_600}, lambda t: t.duration_hours == 87_600),
        ({"data_limit": GB, "duration_hours": 0}, lambda t: t.expires_at is None),
        ({"data_limit": GB, "username": "Edge1234"}, lambda t: t.username == "Edge1234"),
    ],
)
def test_it_creates_a_residential_token_at_the_edge_of_each_rule(sandbox, client, kwargs, check):
    token = client.create_resi_token(**kwargs)
    assert check(token)
    assert token.status == "active"
    assert len(sandbox.calls("POST", "/resi/token/create")) == 1


@pytest.mark.parametrize(
    ("kwargs", "check"),
    [
        ({"data_limit": 5 * GB, "current_data_limit": 5 * GB}, lambda t: t.data_limit == 5 * GB),
        ({"data_limit": 6 * GB, "current_data_limit": 5 * GB}, lambda t: t.data_limit == 6 * GB),
        ({"duration_hours": 87_600}, lambda t: t.duration_hours == 87_600),
        ({"duration_hours": 0}, lambda t: t.expires_at is None),
        ({"allowed_pools": []}, lambda t: t.allowed_pools == ()),
        ({"allowed_pools": ["tickets-us-r", "ca-s"]}, lambda t: t.allowed_pools == ("tickets-us-r", "ca-s")),
    ],
)
def test_it_modifies_a_residential_token_at_the_edge_of_each_rule(sandbox, client, kwargs, check):
    token = client.modify_resi_token("resiPools001", **kwargs)
    assert check(token)
    assert len(sandbox.calls("PATCH", "/resi/token")) == 1


@pytest.mark.parametrize(
    ("kwargs", "check"),
    [
        ({"username": "abcd"}, lambda t: t.username == "abcd"),
        ({"username": "abcdefghijk1"}, lambda t: t.username == "abcdefghijk1"),
        ({"password": "wxyz"}, lambda t: t.password == "wxyz"),
        ({"password": "Wxyz56789012"}, lambda t: t.password == "Wxyz56789012"),
        ({"proxy_type": "socks"}, lambda t: t.proxy_type == "socks"),
        (
            {"auth_type": "ip", "authenticated_ips": ["1.2.3.4", "5.6.7.8", "9.10.11.12", "13.14.15.16"]},
            lambda t: t.authenticated_ips == ("1.2.3.4", "5.6.7.8", "9.10.11.12", "13.14.15.16"),
        ),
        ({"auth_type": "ip", "authenticated_ips": []}, lambda t: t.authenticated_ips == ("1.1.1.1",)),
    ],
)
def test_it_modifies_an_isp_token_at_the_edge_of_each_rule(sandbox, client, kwargs, check):
    token = client.modify_isp_token("ispActive001", **kwargs)
    assert check(token)
    assert len(sandbox.calls("PATCH", "/isp/token")) == 1


def test_it_creates_an_isp_token_that_starts_processing(client):
    token = client.create_isp_token("US", "TICK", 3, "socks", "ip", 720)
    assert token.status == "processing"
    assert not token.can_be_modified
    assert token.authenticated_ips == ("1.1.1.1",)
    assert len(token.proxies) == 3


def test_it_reads_and_lists_tokens_and_pools(client):
    assert client.get_resi_token("resiActive01").username == "demoAct1"
    assert client.get_isp_token("ispIpAuth001").auth_type == "ip"
    assert {t.token for t in client.list_resi_tokens()} >= {"resiActive01", "resiExpData1"}
    assert {t.token for t in client.list_isp_tokens()} >= {"ispActive001", "ispProcess01"}
    assert Pool(id="us-s", name="United States, sticky", raw={}) in client.list_pools()


# Errors by status -------------------------------------------------------------------------------------------


def test_it_raises_authentication_error_for_wrong_credentials(sandbox):
    client = Client(sandbox.base_url("unknownproxies"), "sandbox", "wrong-pass")
    with pytest.raises(errors.AuthenticationError) as caught:
        client.list_resi_tokens()
    assert caught.value.status == 401
    assert caught.value.message == "Invalid credentials"
    assert len(sandbox.calls()) == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get_resi_token("nosuchtoken1"),
        lambda c: c.modify_resi_token("nosuchtoken1", duration_hours=1),
        lambda c: c.get_isp_token("nosuchtoken1"),
        lambda c: c.modify_isp_token("nosuchtoken1", proxy_type="socks"),
    ],
    ids=["get-resi", "modify-resi", "get-isp", "modify-isp"],
)
def test_it_raises_not_found_for_an_unknown_token(client, call):
    with pytest.raises(errors.NotFoundError) as caught:
        call(client)
    assert caught.value.status == 404
    assert caught.value.message == "Token not found"


@pytest.mark.parametrize(("token", "status"), [("ispProcess01", "processing"), ("ispExpTime01", "expired")])
def test_it_raises_conflict_when_modifying_an_isp_token_that_is_not_active(sandbox, client, token, status):
    with pytest.raises(errors.ConflictError) as caught:
        client.modify_isp_token(token, proxy_type="socks")
    assert caught.value.status == 409
    assert caught.value.message == f"only active tokens can be modified; this one is {status}"
    assert len(sandbox.calls("PATCH")) == 1


def test_it_raises_invalid_request_when_the_sandbox_refuses_a_lower_data_limit(sandbox, client):
    with pytest.raises(errors.InvalidRequestError) as caught:
        client.modify_resi_token("resiActive01", data_limit=99 * GB)
    assert caught.value.status == 400
    assert caught.value.message == "dataLimit: cannot be lowered below the current limit of 100,000,000,000 bytes"
    assert len(sandbox.calls("PATCH")) == 1


@pytest.mark.parametrize(
    ("rule", "kind", "status"),
    [
        ({"kind": "rate_limit", "retry_after": 30}, errors.RateLimitedError, 429),
        ({"kind": "status", "status": 500}, errors.UnknownOutcomeError, 500),
        ({"kind": "status", "status": 503}, errors.UnavailableError, 503),
        ({"kind": "status", "status": 502}, errors.UnknownOutcomeError, 502),
        ({"kind": "status", "status": 504}, errors.UnknownOutcomeError, 504),
    ],
)
def test_it_maps_injected_statuses_on_create(sandbox, client, rule, kind, status):
    sandbox.control("faults", {"rules": [{"match": "POST /resi/token/create", **rule}]})
    with pytest.raises(kind) as caught:
        client.create_resi_token(GB)
    assert caught.value.status == status
    assert len(sandbox.calls("POST", "/resi/token/create")) == 1


def test_it_reports_retry_after_on_rate_limited(sandbox, client):
    fault(sandbox, "PATCH /resi/token", "rate_limit", retry_after=42)
    with pytest.raises(errors.RateLimitedError) as caught:
        client.modify_resi_token("resiActive01", duration_hours=800)
    assert caught.value.retry_after == 42


# Parsing ------------------------------------------------------------------------------------------------------


def test_it_parses_the_isp_modify_example():
    token = IspToken.from_json(ISP_MODIFY_EXAMPLE, operation="modify_isp_token")
    assert token.token == "zu8sBXS4gkh7"
    assert token.username == "kGyohRdaGo"
    assert token.password == "bkXBberMQ7"
    assert token.auth_type == "user"
    assert token.proxy_type == "http"
    assert token.authenticated_ips == ()
    assert token.proxies == ("123.123.123.123:12345", "123.123.111.111:8888")
    assert token.created_at == CREATED
    assert token.updated_at == dt.datetime(2025, 8, 10, 16, 39, 28, tzinfo=dt.UTC)
    assert token.data_usage == 11_574_848_653
    assert (token.region, token.product, token.quantity) == ("US", "TICK", 2)
    assert token.expires_at == CREATED + dt.timedelta(hours=720)
    assert token.can_be_modified
    assert token.raw is ISP_MODIFY_EXAMPLE


def test_it_parses_the_residential_modify_example():
    token = ResiToken.from_json(RESI_MODIFY_EXAMPLE, operation="modify_resi_token")
    assert token.username == "kGyohRda"
    assert token.password == "bkXBberMQ7"
    assert token.duration_hours == 750
    assert token.data_limit == 100 * GB
    assert token.data_remaining == 100 * GB - 11_574_848_653
    assert token.allowed_pools == ("us-s", "us-r", "tickets-us-s", "tickets-us-r", "ca-s", "ca-r", "gb-s", "gb-r")
    assert token.expires_at == dt.datetime(2025, 8, 11, 22, 39, 28, tzinfo=dt.UTC)
    assert not token.is_expired(token.expires_at - dt.timedelta(seconds=1))
    assert token.is_expired(token.expires_at)


def test_it_parses_the_residential_create_example():
    token = ResiToken.from_json(RESI_CREATE_EXAMPLE, operation="create_resi_token")
    assert token.status == "active"
    assert token.created_at == token.updated_at == CREATED
    assert token.expires_at is None
    assert token.allowed_pools == ()
    assert not token.is_expired(CREATED + dt.timedelta(days=3650))
    exhausted = ResiToken.from_json({**RESI_CREATE_EXAMPLE, "dataUsage": 100 * GB}, operation="get_resi_token")
    assert exhausted.is_expired(CREATED)


def test_it_tolerates_extra_fields_and_keeps_the_raw_answer():
    data = {**RESI_CREATE_EXAMPLE, "country": "US", "notes": None}
    token = ResiToken.from_json(data, operation="get_resi_token")
    assert token.raw["country"] == "US"
    assert token == ResiToken.from_json(RESI_CREATE_EXAMPLE, operation="get_resi_token")


def test_it_keeps_token_passwords_out_of_repr():
    assert "bkXBberMQ7" not in repr(ResiToken.from_json(RESI_CREATE_EXAMPLE, operation="x"))
    assert "bkXBberMQ7" not in repr(IspToken.from_json(ISP_MODIFY_EXAMPLE, operation="x"))


def test_it_keeps_the_token_itself_out_of_repr():
    # The token authorises changes on the provider's side; it stays out of logs and tracebacks.
    assert "zu8sBXS4gkh7" not in repr(ResiToken.from_json(RESI_CREATE_EXAMPLE, operation="x"))
    assert "zu8sBXS4gkh7" not in repr(IspToken.from_json(ISP_MODIFY_EXAMPLE, operation="x"))


def without(data: dict, key: str) -> dict:
    return {k: v for k, v in data.items() if k != key}


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        (ResiToken, without(RESI_CREATE_EXAMPLE, "token"), "missing field token"),
        (ResiToken, without(RESI_CREATE_EXAMPLE, "dataLimit"), "missing field dataLimit"),
        (ResiToken, {**RESI_CREATE_EXAMPLE, "dataLimit": "lots"}, "dataLimit should be an integer, got 'lots'"),
        (ResiToken, {**RESI_CREATE_EXAMPLE, "createdAt": True}, "createdAt should be an integer, got a boolean"),
        (ResiToken, {**RESI_CREATE_EXAMPLE, "allowedPools": "us-s"}, "allowedPools should be a list, got str"),
        (ResiToken, {**RESI_CREATE_EXAMPLE, "username": 12345678}, "username should be a string, got int"),
        (ResiToken, [RESI_CREATE_EXAMPLE], "expected an object at the top level, got list"),
        (IspToken, {**ISP_MODIFY_EXAMPLE, "proxies": [12345]}, "proxies[0] should be a string"),
        (IspToken, without(ISP_MODIFY_EXAMPLE, "region"), "missing field region"),
        (IspToken, {**ISP_MODIFY_EXAMPLE, "quantity": 2.5}, "quantity should be an integer, got 2.5"),
        (Pool, {"name": "United States, sticky"}, "missing field id"),
    ],
)
def test_it_raises_malformed_response_for_a_wrong_shape(kind, data, message):
    with pytest.raises(errors.MalformedResponseError) as caught:
        kind.from_json(data, operation="get_token")
    assert caught.value.message == message
    assert caught.value.provider == "unknownproxies"


BROKEN = "http://broken-upstream.test/api/v1"


@pytest.mark.parametrize(
    ("call", "path", "body", "message"),
    [
        (lambda c: c.list_resi_tokens(), "/resi/tokens", "<html>Bad gateway</html>", "the answer is not JSON"),
        (lambda c: c.list_resi_tokens(), "/resi/tokens", '{"items": []}', "missing field tokens"),
        (lambda c: c.list_isp_tokens(), "/isp/tokens", '{"tokens": [1]}', "expected an object at tokens[0], got int"),
        (lambda c: c.list_pools(), "/resi/pools", '{"pools": [{"name": "x"}]}', "missing field pools[0].id"),
        (lambda c: c.get_resi_token("abc"), "/resi/token", "[]", "expected an object at the top level, got list"),
    ],
)
def test_it_raises_malformed_response_for_a_broken_answer_over_http(sandbox, call, path, body, message):
    # A second host on the same mock stands in for an upstream that answers 200 with the wrong thing.
    sandbox.mock.add(responses.GET, BROKEN + path, body=body, status=200)
    client = Client(BROKEN, "sandbox", "sandbox-pass")
    with pytest.raises(errors.MalformedResponseError) as caught:
        call(client)
    assert caught.value.message == message
