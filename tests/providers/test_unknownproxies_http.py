"""The Unknown Proxies client against `run_sandbox` over real HTTP sockets."""

from __future__ import annotations

import pytest
import requests

from integrations.unknownproxies.client import Client
from integrations.unknownproxies.rules import GB
from providers.http import errors


@pytest.fixture
def live(live_sandbox):
    """A client on the live sandbox, reset to the seed-1 demo data; faults are cleared afterwards."""
    requests.post(f"{live_sandbox}/_sandbox/reset", json={"seed": 1}, timeout=5).raise_for_status()
    client = Client(f"{live_sandbox}/unknownproxies/api/v1", "sandbox", "sandbox-pass", sleep=lambda seconds: None)
    yield live_sandbox, client
    requests.post(f"{live_sandbox}/_sandbox/faults", json={"rules": []}, timeout=5).raise_for_status()


def test_it_creates_modifies_and_lists_a_residential_token_over_http(live):
    _, client = live
    created = client.create_resi_token(2 * GB, username="Http0001", duration_hours=24)
    assert created.status == "active"
    modified = client.modify_resi_token(
        created.token, data_limit=3 * GB, allowed_pools=["us-s"], current_data_limit=created.data_limit
    )
    assert (modified.data_limit, modified.allowed_pools) == (3 * GB, ("us-s",))
    listed = {token.token: token for token in client.list_resi_tokens()}
    assert listed[created.token] == modified
    assert listed[created.token].username == "Http0001"


def test_it_raises_authentication_error_over_http(live):
    root, _ = live
    with pytest.raises(errors.AuthenticationError):
        Client(f"{root}/unknownproxies/api/v1", "sandbox", "wrong").list_isp_tokens()


def test_a_lost_response_over_http_is_an_unknown_outcome_and_the_token_exists(live):
    root, client = live
    rule = {"provider": "unknownproxies", "match": "POST /resi/token/create", "kind": "lost_response"}
    requests.post(f"{root}/_sandbox/faults", json={"rules": [rule]}, timeout=5).raise_for_status()
    with pytest.raises(errors.UnknownOutcomeError):
        client.create_resi_token(4 * GB, username="LostHttp")
    assert [token.data_limit for token in client.list_resi_tokens() if token.username == "LostHttp"] == [4 * GB]
