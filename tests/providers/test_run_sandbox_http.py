"""`run_sandbox` really serves the sandbox over HTTP."""

from __future__ import annotations

import requests


def test_it_serves_the_control_clock_over_http(live_sandbox):
    response = requests.get(f"{live_sandbox}/_sandbox/clock", timeout=5)
    assert response.status_code == 200
    assert isinstance(response.json()["now"], int)


def test_it_answers_404_over_http_for_unknown_paths(live_sandbox):
    assert requests.get(f"{live_sandbox}/nowhere", timeout=5).status_code == 404
