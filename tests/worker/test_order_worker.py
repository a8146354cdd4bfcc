"""Orders through a real Celery worker on Redis: the web side only charges and queues; a worker killed
in the middle of an upstream call loses nothing (acks_late + reject_on_worker_lost, a re-run never buys twice)."""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests

from billing import services
from billing.models import LedgerEntry, Order, OrderState, Product
from providers.registry import client_for_account
from tests.factories import ProviderAccountFactory
from tests.support.processes import child_pids, start_celery_worker

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def live_product(live_sandbox):
    requests.post(f"{live_sandbox}/_sandbox/reset", json={"seed": 1}, timeout=5)
    account = ProviderAccountFactory(name="Live shop", kind="shop", base_url=f"{live_sandbox}/shop")
    return Product.objects.create(
        name="Amsterdam private 30 days",
        kind="shop_plan",
        account=account,
        parameters={"plan_id": "nlams30private"},
        price_cents=2000,
        renewal_price_cents=1800,
    )


def _wait_for(predicate, *, worker, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        assert worker.poll() is None, f"the worker exited early:\n{worker.stdout.read()}"
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_a_real_worker_fulfils_a_queued_order(redis_url, live_sandbox, live_product, customer_a, owner):
    services.balance_top_up(customer=customer_a, amount_cents=5000, actor=owner)
    with start_celery_worker(broker_url=redis_url) as worker:
        order = services.order_place(customer=customer_a, product=live_product, idempotency_key="w" * 16, actor=None)
        assert order.state == OrderState.PENDING  # the caller never waited on upstream
        _wait_for(lambda: Order.objects.get(pk=order.pk).state == OrderState.FULFILLED, worker=worker)
    order = Order.objects.get(pk=order.pk)
    assert order.resource.customer == customer_a
    assert services.customer_balance(customer=customer_a) == 3000


def test_a_worker_killed_mid_call_loses_nothing_and_buys_once(redis_url, live_sandbox, live_product, customer_a, owner):
    services.balance_top_up(customer=customer_a, amount_cents=5000, actor=owner)
    # The purchase takes 3 s at the shop: long enough to kill the worker while it waits for the answer.
    requests.post(
        f"{live_sandbox}/_sandbox/faults",
        json={"rules": [{"provider": "shop", "match": "POST purchase", "kind": "latency", "ms": 3000}]},
        timeout=5,
    )
    shop = client_for_account(live_product.account)
    before = {subscription.id for subscription in shop.subscriptions()}
    with start_celery_worker(broker_url=redis_url) as worker:
        order = services.order_place(customer=customer_a, product=live_product, idempotency_key="x" * 16, actor=None)
        _wait_for(lambda: Order.objects.get(pk=order.pk).state == OrderState.SUBMITTED, worker=worker)
        for pid in child_pids(worker.pid):
            os.kill(pid, signal.SIGKILL)  # the pool child dies in the middle of the upstream call
        # The parent starts a new child and the broker gives the same task back (reject_on_worker_lost).
        _wait_for(lambda: Order.objects.get(pk=order.pk).state != OrderState.SUBMITTED, worker=worker, timeout=90)
        settled = Order.objects.get(pk=order.pk)
        if settled.state == OrderState.UNKNOWN:  # the shop had not answered yet when the task ran again
            time.sleep(3)
            settled = services.order_reconcile(order=settled)
    assert settled.state == OrderState.FULFILLED
    assert settled.resource.customer == customer_a
    kinds = sorted(LedgerEntry.objects.filter(customer=customer_a).values_list("kind", flat=True))
    assert kinds == ["purchase", "top_up"]
    assert services.customer_balance(customer=customer_a) == 3000
    # Bought once upstream: exactly one subscription is new, and it is the one the order settled with.
    new = {subscription.id for subscription in shop.subscriptions()} - before
    assert new == {settled.resource.upstream_id}
