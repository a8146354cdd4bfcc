"""The customer API's cast: read-only and read-write keys for Alice, a key for Bob, a client per key."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.api_keys import api_key_create


class KeyClient(Client):
    """A test client that sends one API key with every request."""

    def __init__(self, key: str, **defaults):
        super().__init__(HTTP_AUTHORIZATION=f"Bearer {key}", **defaults)


def key_for(user, *, can_write: bool, name: str = "script") -> str:
    return api_key_create(user=user, name=name, can_write=can_write, actor=user)[1]


@pytest.fixture
def alice_reader(alice):
    return KeyClient(key_for(alice, can_write=False, name="reader"))


@pytest.fixture
def alice_writer(alice):
    return KeyClient(key_for(alice, can_write=True, name="writer"))


@pytest.fixture
def bob_writer(bob):
    return KeyClient(key_for(bob, can_write=True))


# The billing cast (sandbox accounts, products, Alice's money) serves the buy and renew tests too.
from tests.billing.conftest import funded, resi_account, resi_product, shop_account, shop_product  # noqa: E402, F401


@pytest.fixture(autouse=True)
def _orders_run_eagerly(celery_eager):
    """Orders settle before the API answers (the billing tests do the same); e2e gets a real worker."""
