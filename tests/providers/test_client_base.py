"""The shared client base (retries, backoff, unknown outcomes, secrecy), exercised through Unknown Proxies."""

from __future__ import annotations

import base64
import email.utils
import logging
import socket
import time

import pytest
import responses

from integrations.unknownproxies.client import Client
from integrations.unknownproxies.rules import GB
from providers.http import errors
from providers.http.base import BaseClient, parse_retry_after

PASSWORD = "sandbox-pass"
ENCODED = base64.b64encode(f"sandbox:{PASSWORD}".encode()).decode()


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleep():
    return SleepRecorder()


@pytest.fixture
def client(sandbox, sleep):
    return Client(sandbox.base_url("unknownproxies"), "sandbox", PASSWORD, sleep=sleep)


def fault(sandbox, match: str, kind: str, **extra) -> None:
    rule = {"provider": "unknownproxies", "match": match, "kind": kind, **extra}
    sandbox.control("faults", {"rules": [rule]})


def test_it_sends_basic_auth_on_every_request(sandbox, client):
    client.list_resi_tokens()
    client.get_isp_token("ispActive001")
    assert [call.request.headers["Authorization"] for call in sandbox.calls()] == [f"Basic {ENCODED}"] * 2


# Retries on safe calls -------------------------------------------------------------------------------


def test_it_retries_a_get_after_429_honouring_retry_after(sandbox, client, sleep):
    fault(sandbox, "GET /resi/tokens", "rate_limit", retry_after=7, times=2)
    assert client.list_resi_tokens()
    assert sleep.delays == [7, 7]
    assert len(sandbox.calls("GET", "/resi/tokens")) == 3


def test_it_honours_a_retry_after_given_as_an_http_date(sandbox, sleep):
    # The sandbox sends delta-seconds only; a second host on the same mock sends the date form.
    upstream = "http://dated-upstream.test/api/v1"
    later = email.utils.formatdate(time.time() + 20, usegmt=True)
    sandbox.mock.add(responses.GET, upstream + "/resi/pools", status=429, headers={"Retry-After": later})
    sandbox.mock.add(responses.GET, upstream + "/resi/pools", json={"pools": [{"id": "us-s"}]})
    client = Client(upstream, "sandbox", PASSWORD, sleep=sleep)
    assert [pool.id for pool in client.list_pools()] == ["us-s"]
    [delay] = sleep.delays
    assert 15 < delay <= 20


@pytest.mark.parametrize(
    ("header", "seconds"), [("7", 7.0), ("0", 0.0), ("-3", 0.0), ("soon", None), ("", None), (None, None)]
)
def test_it_reads_retry_after_as_delta_seconds(header, seconds):
    assert parse_retry_after(header) == seconds


def test_it_gives_up_at_once_when_retry_after_is_longer_than_the_backoff_maximum(sandbox, client, sleep):
    fault(sandbox, "GET /resi/pools", "rate_limit", retry_after=600)
    with pytest.raises(errors.RateLimitedError) as caught:
        client.list_pools()
    assert caught.value.retry_after == 600
    assert sleep.delays == []
    assert len(sandbox.calls("GET", "/resi/pools")) == 1


def test_it_waits_the_full_retry_after_when_it_is_within_the_backoff_maximum(sandbox, client, sleep):
    fault(sandbox, "GET /resi/pools", "rate_limit", retry_after=int(BaseClient.backoff_max))
    assert client.list_pools()
    assert sleep.delays == [BaseClient.backoff_max]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_it_retries_a_get_after_5xx_with_growing_jittered_backoff(sandbox, client, sleep, status):
    fault(sandbox, "GET /isp/tokens", "status", status=status, times=3)
    assert client.list_isp_tokens()
    assert len(sleep.delays) == 3
    for attempt, delay in enumerate(sleep.delays):
        assert 0 <= delay <= BaseClient.backoff_base * 2**attempt
    assert len(sandbox.calls("GET", "/isp/tokens")) == 4


def test_it_gives_up_on_a_get_after_the_retries_with_unavailable(sandbox, sleep):
    client = Client(sandbox.base_url("unknownproxies"), "sandbox", PASSWORD, sleep=sleep, max_retries=2)
    fault(sandbox, "GET /resi/tokens", "status", status=503, times=10)
    with pytest.raises(errors.UnavailableError) as caught:
        client.list_resi_tokens()
    assert caught.value.status == 503
    assert len(sleep.delays) == 2
    assert len(sandbox.calls("GET", "/resi/tokens")) == 3


def test_it_gives_up_on_a_rate_limited_get_with_its_retry_after(sandbox, client, sleep):
    fault(sandbox, "GET /resi/token", "rate_limit", retry_after=3, times=10)
    with pytest.raises(errors.RateLimitedError) as caught:
        client.get_resi_token("resiActive01")
    assert caught.value.retry_after == 3
    assert sleep.delays == [3, 3, 3]
    assert len(sandbox.calls("GET")) == 4


def test_it_retries_a_get_after_a_timeout(sandbox, client, sleep):
    fault(sandbox, "GET /resi/token", "timeout")
    assert client.get_resi_token("resiActive01").username == "demoAct1"
    assert len(sleep.delays) == 1
    assert len(sandbox.calls("GET", "/resi/token")) == 2


def test_it_retries_a_get_after_a_lost_response(sandbox, client, sleep):
    fault(sandbox, "GET /isp/token", "lost_response")
    assert client.get_isp_token("ispActive001").token == "ispActive001"
    assert len(sandbox.calls("GET")) == 2


def test_it_never_retries_a_client_error_on_a_get(sandbox, client, sleep):
    with pytest.raises(errors.NotFoundError):
        client.get_resi_token("nosuchtoken1")
    assert sleep.delays == []
    assert len(sandbox.calls()) == 1


# No retry on calls that change state -------------------------------------------------------------------

CHANGES = [
    pytest.param("POST /resi/token/create", lambda c: c.create_resi_token(GB), id="create-resi"),
    pytest.param(
        "PATCH /resi/token", lambda c: c.modify_resi_token("resiActive01", duration_hours=800), id="modify-resi"
    ),
    pytest.param(
        "POST /isp/token/create", lambda c: c.create_isp_token("US", "TICK", 1, "http", "user", 0), id="create-isp"
    ),
    pytest.param("PATCH /isp/token", lambda c: c.modify_isp_token("ispActive001", proxy_type="socks"), id="modify-isp"),
]


@pytest.mark.parametrize(("match", "call"), CHANGES)
@pytest.mark.parametrize(
    ("rule", "kind"),
    [
        ({"kind": "status", "status": 503}, errors.UnavailableError),
        ({"kind": "rate_limit", "retry_after": 1}, errors.RateLimitedError),
        ({"kind": "status", "status": 504}, errors.UnknownOutcomeError),
    ],
    ids=["503", "429", "504"],
)
def test_it_never_retries_a_change(sandbox, client, sleep, match, call, rule, kind):
    sandbox.control("faults", {"rules": [{"match": match, "times": 5, **rule}]})
    with pytest.raises(kind):
        call(client)
    method, path = match.split(" ")
    assert len(sandbox.calls(method, path)) == 1
    assert sleep.delays == []


def test_a_lost_response_on_create_is_an_unknown_outcome_and_the_token_really_exists(sandbox, client, sleep):
    before = {token.token for token in client.list_resi_tokens()}
    fault(sandbox, "POST /resi/token/create", "lost_response")
    with pytest.raises(errors.UnknownOutcomeError) as caught:
        client.create_resi_token(3 * GB, username="Lost0001")
    assert "may have been applied" in caught.value.message
    assert len(sandbox.calls("POST", "/resi/token/create")) == 1
    assert sleep.delays == []
    created = [token for token in client.list_resi_tokens() if token.token not in before]
    assert [(token.username, token.data_limit) for token in created] == [("Lost0001", 3 * GB)]


def test_a_lost_response_on_modify_is_an_unknown_outcome_but_the_change_was_applied(sandbox, client):
    fault(sandbox, "PATCH /isp/token", "lost_response")
    with pytest.raises(errors.UnknownOutcomeError):
        client.modify_isp_token("ispActive001", proxy_type="socks")
    assert client.get_isp_token("ispActive001").proxy_type == "socks"


def test_a_timeout_on_create_is_an_unknown_outcome_sent_once(sandbox, client, sleep):
    fault(sandbox, "POST /isp/token/create", "timeout")
    with pytest.raises(errors.UnknownOutcomeError):
        client.create_isp_token("US", "TICK", 1, "http", "user", 0)
    assert len(sandbox.calls("POST", "/isp/token/create")) == 1
    assert sleep.delays == []


def test_a_change_that_never_reached_the_upstream_is_unavailable_not_unknown(sleep):
    # A closed port on loopback: the connection is refused before anything is sent, so nothing changed.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = Client(f"http://127.0.0.1:{port}/api/v1", "sandbox", PASSWORD, sleep=sleep)
    with pytest.raises(errors.UnavailableError) as caught:
        client.create_resi_token(GB)
    assert type(caught.value) is errors.UnavailableError
    assert sleep.delays == []


# Secrecy ------------------------------------------------------------------------------------------------------


def raised(call) -> errors.ProviderError:
    with pytest.raises(errors.ProviderError) as caught:
        call()
    return caught.value


def test_credentials_never_appear_in_repr_errors_or_logs(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "Secret0Pass1"
    url = sandbox.base_url("unknownproxies")
    wrong = Client(url, "sandbox", secret)
    client = Client(url, "sandbox", PASSWORD, sleep=lambda seconds: None, max_retries=0)
    assert secret not in repr(wrong) and PASSWORD not in repr(client)
    assert repr(client) == f"<Client {url}>"

    found = [raised(wrong.list_resi_tokens), raised(lambda: client.create_resi_token(GB - 1))]
    found.append(raised(lambda: client.modify_resi_token("resiActive01", data_limit=GB)))
    found.append(raised(lambda: client.get_isp_token("nosuchtoken1")))
    found.append(raised(lambda: client.modify_isp_token("ispProcess01", password="NewSecret99")))
    faulted = [
        ("GET /resi/tokens", "rate_limit", {"retry_after": 2}, client.list_resi_tokens),
        ("GET /isp/tokens", "status", {"status": 503}, client.list_isp_tokens),
        ("POST /resi/token/create", "lost_response", {}, lambda: client.create_resi_token(GB)),
    ]
    for match, kind, extra, call in faulted:
        fault(sandbox, match, kind, **extra)
        found.append(raised(call))

    kinds = {type(error) for error in found}
    assert kinds == {
        errors.AuthenticationError,
        errors.InvalidRequestError,
        errors.NotFoundError,
        errors.ConflictError,
        errors.RateLimitedError,
        errors.UnavailableError,
        errors.UnknownOutcomeError,
    }
    encoded_wrong = base64.b64encode(f"sandbox:{secret}".encode()).decode()
    for error in found:
        for text in (str(error), repr(error)):
            for leak in (secret, PASSWORD, ENCODED, encoded_wrong, "NewSecret99"):
                assert leak not in text
    for leak in (secret, PASSWORD, ENCODED, encoded_wrong, "NewSecret99"):
        assert leak not in caplog.text
