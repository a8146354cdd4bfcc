"""Schemathesis against a live server: no 500s and every response as the schema says, for both kinds of key.

The server runs in pytest-django's live_server thread with the sandbox behind `responses` (its upstream calls go
to the twin; our own requests to the live server pass through). Examples are few per operation, so it stays fast.
"""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.api_keys import api_key_create
from api.urls import api
from billing import services
from inventory import presenters
from inventory.models import Resource
from inventory.sync import sync_account
from tests.factories import ResourceFactory

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 5, GenerationMode.NEGATIVE: 2}


@pytest.fixture
def world(live_server, sandbox, alice, bob, owner, shop_account, shop_product, settings):
    """Alice with money, a residential token and a shop subscription; Bob with a proxy of his own."""
    settings.API_RATE_LIMIT_PER_MINUTE = 100_000
    sandbox.mock.add_passthru(live_server.url)
    services.balance_top_up(customer=alice.customer, amount_cents=100_000, actor=owner)
    sync_account(account=shop_account)
    subscription = Resource.objects.get(account=shop_account, upstream_id="subnlrotating")
    Resource.objects.filter(pk=subscription.pk).update(customer=alice.customer)
    token = ResourceFactory(customer=alice.customer)
    bobs = ResourceFactory(customer=bob.customer)
    return {"ids": [subscription.pk, token.pk, bobs.pk], "root": live_server.url, "base_url": f"{live_server.url}/api"}


def _operations():
    schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/"))
    return [result.ok() for result in schema.get_all_operations()]


def _strategy(operation, mode: GenerationMode, ids: list[int]):
    strategy = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE and "{resource_id}" in operation.path:
        # Mostly real ids (ours and another customer's), so the operation does more than answer 404.
        real = [operation.as_strategy(generation_mode=mode, path_parameters={"resource_id": i}) for i in ids]
        strategy = st.one_of(*real, strategy)
    return strategy


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("can_write", [False, True], ids=["read-only", "read-write"])
def test_every_response_matches_the_schema(world, alice, can_write):
    _, raw = api_key_create(user=alice, name="schemathesis", can_write=can_write, actor=alice)
    headers = {"Authorization": f"Bearer {raw}"}
    with requests.Session() as session:
        _check_every_operation(session, headers, world)


def _check_every_operation(session, headers: dict, world: dict) -> None:
    for operation in _operations():
        for mode, examples in EXAMPLES.items():

            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=_strategy(operation, mode, world["ids"]))
            def check(case):
                case.call_and_validate(base_url=world["root"], session=session, headers=headers, checks=CHECKS)

            check()


@pytest.mark.django_db(transaction=True)
def test_a_key_never_reaches_another_customers_data(world, alice, bob):
    """Every read with Bob's key, over Alice's ids: nothing of hers comes back."""
    _, raw = api_key_create(user=bob, name="bob", can_write=True, actor=bob)
    headers = {"Authorization": f"Bearer {raw}"}
    alice_ids = world["ids"][:2]
    for resource_id in alice_ids:
        for path in (f"/proxies/{resource_id}", f"/proxies/{resource_id}/usage", f"/proxies/{resource_id}/actions"):
            response = requests.get(world["base_url"] + path, headers=headers, timeout=10)
            assert response.status_code == 404, path
    listed = requests.get(world["base_url"] + "/proxies", headers=headers, timeout=10).json()["items"]
    assert [item["id"] for item in listed] == [world["ids"][2]]
    usage = requests.get(world["base_url"] + "/usage", headers=headers, timeout=10).json()
    assert [item["id"] for item in usage] == [world["ids"][2]]
    export = requests.get(world["base_url"] + "/proxies/export", params={"format": "txt"}, headers=headers, timeout=10)
    alice_lines = {line for r in Resource.objects.filter(pk__in=alice_ids) for line in presenters.proxy_lines(r)}
    assert alice_lines and not alice_lines & set(export.text.splitlines())
    assert requests.get(world["base_url"] + "/ledger", headers=headers, timeout=10).json()["items"] == []
    assert requests.get(world["base_url"] + "/balance", headers=headers, timeout=10).json()["balance_cents"] == 0
