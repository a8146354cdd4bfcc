"""The proxy shop client against `run_sandbox` over real HTTP."""

from __future__ import annotations

import logging
import socket
import traceback

import pytest
import requests

from integrations.proxyshop.client import Client
from providers.http import errors


@pytest.fixture
def client(live_sandbox):
    # The live sandbox is shared by the session: give this test enough money whatever ran before.
    requests.post(f"{live_sandbox}/_sandbox/balance", json={"provider": "shop", "amount_cents": 100_000}, timeout=5)
    return Client(f"{live_sandbox}/shop", "rk_sandbox", timeout=(5, 10))


def test_it_purchases_and_lists_over_http(client):
    result = client.purchase("nlams7shared", quantity=2, coupon_code="WELCOME10")
    assert len(result.subscription_ids) == 2
    listed = {sub.id: sub for sub in client.subscriptions()}
    for sub_id in result.subscription_ids:
        assert listed[sub_id].status == "active"
        assert listed[sub_id].credentials.username in listed[sub_id].protocols.http


def test_a_dropped_connection_after_a_purchase_is_an_unknown_outcome_over_http(live_sandbox, client):
    before = {sub.id for sub in client.subscriptions()}
    rule = {"provider": "shop", "match": "POST purchase", "kind": "lost_response", "times": 1}
    requests.post(f"{live_sandbox}/_sandbox/faults", json={"rules": [rule]}, timeout=5)
    try:
        with pytest.raises(errors.UnknownOutcomeError):
            client.purchase("nlams7shared")
    finally:
        requests.post(f"{live_sandbox}/_sandbox/faults", json={"rules": []}, timeout=5)
    assert len({sub.id for sub in client.subscriptions()} - before) == 1


def test_it_refuses_a_wrong_key_over_http(live_sandbox):
    with pytest.raises(errors.AuthenticationError):
        Client(f"{live_sandbox}/shop", "rk_nope").plans()


def test_the_rotate_link_never_reaches_the_transport_log(live_sandbox, client, caplog):
    rotating = next(sub for sub in client.subscriptions() if sub.rotate and sub.rotate.available)
    link = rotating.rotate.rotate_path
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        response = client.session.get(f"{live_sandbox}/shop{link}", timeout=5)
    assert response.status_code == 200
    assert caplog.records, "urllib3 logged nothing: the test would prove nothing"
    assert link not in caplog.text
    assert "<rotate link>" in caplog.text


def test_a_rotate_link_that_cannot_be_sent_stays_out_of_the_traceback():
    # Nothing listens on this port: requests' error says "Max retries exceeded with url: <the path>".
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client = Client(f"http://127.0.0.1:{closed_port}/shop", "rk_sandbox", timeout=(1, 1), max_retries=0)
    link = "/r/secretlink42"
    with pytest.raises(errors.UnavailableError) as caught:
        client.follow_rotate_path(link)
    # What a log line or Sentry would show: the transport error names the URL, so it is not chained.
    shown = "".join(traceback.format_exception(caught.value))
    assert "could not connect" in shown
    assert "secretlink42" not in shown
