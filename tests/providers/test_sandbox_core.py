"""The sandbox's shared machinery: clock, control endpoints and fault rules."""

from __future__ import annotations

import pytest
import requests

from providers.sandbox.core import FaultRule, SandboxError


def test_it_reports_and_advances_the_clock(sandbox):
    before = sandbox.control("clock", method="GET")["now"]
    after = sandbox.control("clock", {"advance_seconds": 600})["now"]
    assert after - before >= 600


def test_it_refuses_a_negative_clock_advance(sandbox):
    response = requests.post(f"{sandbox.root}/_sandbox/clock", json={"advance_seconds": -1}, timeout=5)
    assert response.status_code == 400
    assert "advance_seconds" in response.json()["error"]


def test_it_resets_the_clock_on_reset(sandbox):
    sandbox.control("clock", {"advance_seconds": 86400})
    sandbox.control("reset", {"seed": 7})
    assert sandbox.app.seed == 7
    assert sandbox.app.clock.offset == 0


def test_it_refuses_control_calls_from_outside_loopback(sandbox):
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/_sandbox/clock", "REMOTE_ADDR": "10.1.2.3"}
    from werkzeug.test import EnvironBuilder

    built = EnvironBuilder(path="/_sandbox/clock", environ_base={"REMOTE_ADDR": environ["REMOTE_ADDR"]}).get_environ()
    response = sandbox.app.dispatch(built)
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"kind": "explode"}, "kind must be one of"),
        ({"kind": "status", "times": 0}, "times must be a positive integer"),
        ({"kind": "latency", "ms": -5}, "ms must be a non-negative integer"),
        ("not-an-object", "must be an object"),
    ],
)
def test_it_refuses_malformed_fault_rules(rule, message):
    with pytest.raises(SandboxError, match=message):
        FaultRule.from_json(rule)


def test_a_rule_matches_by_provider_method_and_path_prefix():
    rule = FaultRule.from_json({"provider": "iproxy", "match": "GET /connections", "kind": "status", "status": 503})
    assert rule.matches("iproxy", "GET", "/connections/abc")
    assert not rule.matches("iproxy", "POST", "/connections")
    assert not rule.matches("shop", "GET", "/connections")
    assert FaultRule.from_json({"match": "* ", "kind": "timeout"}).matches("shop", "POST", "purchase")


def test_it_answers_404_for_unknown_paths(sandbox):
    response = requests.get(f"{sandbox.root}/nowhere", timeout=5)
    assert response.status_code == 404
