"""Behind the TLS proxy every request comes from the proxy's address: axes must lock out a username only from
the client address the proxy reported (X-Forwarded-For), so one lock-out never locks out everyone."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import PASSWORD

PROXY = "172.18.0.5"  # Caddy's address on the compose network


@pytest.fixture(autouse=True)
def behind_one_proxy(settings):
    """What TRUSTED_PROXY_COUNT=1 (the compose file) sets."""
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    settings.AXES_IPWARE_PROXY_ORDER = "left-most"
    settings.AXES_IPWARE_PROXY_COUNT = 0
    settings.IPWARE_STRICT = False


def sign_in(client, username: str, password: str, *, forwarded_for: str):
    return client.post(
        reverse("accounts:login"),
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def lock_out(client, username: str, *, forwarded_for: str, settings) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, username, "nope-nope", forwarded_for=forwarded_for)
    assert sign_in(client, username, PASSWORD, forwarded_for=forwarded_for).status_code == 429


def test_a_locked_out_username_still_signs_in_from_another_client_address(client, alice, settings):
    lock_out(client, "alice", forwarded_for="198.51.100.7", settings=settings)

    assert sign_in(client, "alice", PASSWORD, forwarded_for="198.51.100.8").status_code == 302


def test_another_username_from_the_locked_out_address_still_signs_in(client, alice, bob, settings):
    lock_out(client, "alice", forwarded_for="198.51.100.7", settings=settings)

    assert sign_in(client, "bob", PASSWORD, forwarded_for="198.51.100.7").status_code == 302


def test_an_address_a_client_adds_in_front_does_not_escape_the_lock_out(client, alice, settings):
    lock_out(client, "alice", forwarded_for="198.51.100.7", settings=settings)

    # The proxy appends the address it saw; whatever the client sent stands before it.
    response = sign_in(client, "alice", PASSWORD, forwarded_for="203.0.113.99, 198.51.100.7")
    assert response.status_code == 429


def test_the_lock_out_records_the_client_address_not_the_proxys(client, alice, settings):
    from axes.models import AccessAttempt

    lock_out(client, "alice", forwarded_for="198.51.100.7", settings=settings)

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}
