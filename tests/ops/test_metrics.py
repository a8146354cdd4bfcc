"""/metrics (Prometheus) answers an internal scraper that reaches the app directly, and signed-in staff;
never an anonymous visitor from outside, nor anyone through the public proxy without a staff login."""

from __future__ import annotations

import pytest


def metrics(client, **meta):
    return client.get("/metrics", **meta)


@pytest.mark.parametrize(
    "meta",
    [
        {"REMOTE_ADDR": "198.51.100.7"},  # straight from the internet
        {"REMOTE_ADDR": "172.18.0.5", "HTTP_X_FORWARDED_FOR": "198.51.100.7"},  # through the TLS proxy
        {"REMOTE_ADDR": "172.18.0.5", "HTTP_X_FORWARDED_FOR": "10.0.0.9"},  # a forged "internal" address
    ],
)
def test_it_refuses_anonymous_public_access(client, db, meta):
    response = metrics(client, **meta)
    assert response.status_code == 403
    assert b"django_http_requests" not in response.content


def test_it_refuses_a_customer(client, alice):
    client.force_login(alice)
    assert metrics(client, REMOTE_ADDR="198.51.100.7").status_code == 403


def test_it_answers_an_internal_scraper(client, db):
    response = metrics(client, REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert b"django_http_requests_before_middlewares_total" in response.content


@pytest.mark.parametrize("who", ["owner", "support"])
def test_it_answers_signed_in_staff_from_anywhere(client, request, who):
    client.force_login(request.getfixturevalue(who))
    response = metrics(client, REMOTE_ADDR="172.18.0.5", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert response.status_code == 200
    assert b"django_http_requests" in response.content
