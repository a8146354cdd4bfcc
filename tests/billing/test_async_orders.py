"""Orders off the web request: the request charges and queues, a worker sends and settles, once, even after a crash."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.utils import timezone

from billing import fulfilment, lanes, services, tasks
from billing.models import LedgerEntry, Order, OrderLane, OrderState, ResourceClaim
from inventory.models import Resource

LOST_PURCHASE = {"provider": "shop", "match": "POST purchase", "kind": "lost_response"}


@pytest.fixture
def queued(monkeypatch):
    """The broker, as seen by the web request: the ids of the orders queued for a worker, not run yet."""
    ids: list[int] = []
    monkeypatch.setattr(tasks.fulfil_order, "delay", lambda order_id: ids.append(order_id))
    return ids


def _work(queued):
    """A worker takes every queued order (the same task the broker would deliver)."""
    while queued:
        tasks.fulfil_order.apply(args=[queued.pop(0)], throw=True)


def _kinds(customer):
    return sorted(LedgerEntry.objects.filter(customer=customer).values_list("kind", flat=True))


def _purchases(sandbox):
    return len(sandbox.calls("POST", "/api/proxy"))


def _key(response) -> str:
    return re.findall(r'name="idempotency_key" value="([^"]+)"', response.content.decode())[0]


def test_the_buy_request_charges_and_queues_without_calling_upstream(
    client, sandbox, alice, funded, shop_product, queued
):
    client.force_login(alice)
    key = _key(client.get("/portal/shop/"))

    response = client.post(
        f"/portal/shop/buy/{shop_product.pk}/", {"idempotency_key": key, "expected_price_cents": 2000}
    )

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/portal/shop/orders/{order.pk}/"
    assert order.state == OrderState.PENDING
    assert queued == [order.pk]
    assert services.customer_balance(customer=funded) == 3000  # the charge committed in the request
    assert _purchases(sandbox) == 0  # the web worker never waited on upstream


def test_the_order_page_shows_processing_and_polls_until_fulfilled(
    client, sandbox, alice, funded, shop_product, queued
):
    client.force_login(alice)
    client.post(f"/portal/shop/buy/{shop_product.pk}/", {"idempotency_key": "p" * 32})
    order = Order.objects.get()

    page = client.get(f"/portal/shop/orders/{order.pk}/").content.decode()
    assert "Processing" in page
    assert 'hx-trigger="every 2s"' in page
    assert f'hx-get="/portal/shop/orders/{order.pk}/"' in page

    _work(queued)
    partial = client.get(f"/portal/shop/orders/{order.pk}/", headers={"HX-Request": "true"}).content.decode()

    assert "<html" not in partial  # only the status part is swapped in
    assert "Fulfilled" in partial
    assert "hx-trigger" not in partial  # settled: the polling stops
    assert "/portal/proxies/" in partial
    assert Order.objects.get().state == OrderState.FULFILLED


def test_the_order_page_shows_a_refund_when_the_worker_fails_it(
    client, sandbox, alice, funded, sold_out_product, queued
):
    client.force_login(alice)
    client.post(f"/portal/shop/buy/{sold_out_product.pk}/", {"idempotency_key": "s" * 32})
    _work(queued)
    order = Order.objects.get()

    partial = client.get(f"/portal/shop/orders/{order.pk}/", headers={"HX-Request": "true"}).content.decode()

    assert "Failed (refunded)" in partial
    assert "sold out" in partial
    assert "hx-trigger" not in partial
    assert services.customer_balance(customer=funded) == 5000


def test_a_renewal_is_charged_in_the_request_and_sent_by_the_worker(
    client, sandbox, alice, funded, shop_product, queued
):
    bought = services.order_place(customer=funded, product=shop_product, idempotency_key="b" * 16, actor=None)
    _work(queued)
    resource = Resource.objects.get(pk=Order.objects.get(pk=bought.pk).resource_id)
    client.force_login(alice)

    client.post(f"/portal/shop/renew/{resource.pk}/", {"idempotency_key": "r" * 32})

    renewal = Order.objects.get(kind="renewal")
    assert renewal.state == OrderState.PENDING
    assert not sandbox.calls("POST", "/api/proxy/renew") and not [
        call for call in sandbox.calls("POST") if b"renew" in (call.request.body or b"")
    ]
    _work(queued)
    assert Order.objects.get(pk=renewal.pk).state == OrderState.FULFILLED
    assert services.customer_balance(customer=funded) == 5000 - 2000 - 1800


def test_the_task_declares_late_acks_and_its_own_queue():
    task = tasks.fulfil_order
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True
    assert task.queue == "orders"


# A worker killed mid-order ----------------------------------------------------------------------------


def test_a_worker_killed_between_submit_and_settle_loses_nothing_and_buys_once(sandbox, funded, shop_product, queued):
    services.order_place(customer=funded, product=shop_product, idempotency_key="k" * 16, actor=None)
    order_id = queued[0]
    # The process dies after upstream sold the plan and before the settlement was written.
    with mock.patch.object(services, "_settle_fulfilled", side_effect=SystemExit), pytest.raises(SystemExit):
        tasks.fulfil_order.apply(args=[order_id], throw=True)
    assert Order.objects.get(pk=order_id).state == OrderState.SUBMITTED
    assert _purchases(sandbox) == 1

    # acks_late + reject_on_worker_lost: the broker delivers the same task again.
    _work(queued)

    order = Order.objects.get(pk=order_id)
    assert order.state == OrderState.FULFILLED
    assert _purchases(sandbox) == 1  # found upstream, never bought again
    assert order.resource.customer == funded
    assert ResourceClaim.objects.get().order_id == order.pk
    assert _kinds(funded) == ["purchase", "top_up"]
    assert services.customer_balance(customer=funded) == 3000
    # Delivered once more (a duplicate): nothing changes.
    tasks.fulfil_order.apply(args=[order_id], throw=True)
    assert _purchases(sandbox) == 1
    assert _kinds(funded) == ["purchase", "top_up"]


def test_a_worker_killed_before_the_call_left_holds_the_money_then_refunds_it(sandbox, funded, shop_product, queued):
    services.order_place(customer=funded, product=shop_product, idempotency_key="k" * 16, actor=None)
    order_id = queued.pop()
    with mock.patch.object(fulfilment, "submit", side_effect=SystemExit), pytest.raises(SystemExit):
        tasks.fulfil_order.apply(args=[order_id], throw=True)

    tasks.fulfil_order.apply(args=[order_id], throw=True)  # redelivered: nothing upstream, never re-sent

    assert _purchases(sandbox) == 0
    assert Order.objects.get(pk=order_id).state == OrderState.UNKNOWN
    assert services.customer_balance(customer=funded) == 3000
    Order.objects.filter(pk=order_id).update(submitted_at=timezone.now() - tasks.GRACE * 2)
    assert tasks.reconcile_unknown_orders()["failed"] == 1
    assert services.customer_balance(customer=funded) == 5000
    assert _purchases(sandbox) == 0


def test_a_redelivered_task_takes_over_the_lane_its_dead_attempt_left_leased(sandbox, funded, shop_product, queued):
    services.order_place(customer=funded, product=shop_product, idempotency_key="k" * 16, actor=None)
    order_id = queued.pop()
    with mock.patch.object(services, "_settle_fulfilled", side_effect=SystemExit), pytest.raises(SystemExit):
        tasks.fulfil_order.apply(args=[order_id], throw=True)
    # A SIGKILL runs no `finally`: the lane stays leased to the dead attempt at this order.
    OrderLane.objects.update(holder="dead-worker", holder_order=order_id, lease_until=timezone.now() + lanes.LEASE)

    services.order_fulfil(order_id=order_id)

    assert Order.objects.get(pk=order_id).state == OrderState.FULFILLED
    assert _purchases(sandbox) == 1
    assert OrderLane.objects.get().holder == ""


def test_another_order_waits_for_a_dead_workers_lane_until_its_lease_ends(
    sandbox, funded, shop_product, queued, monkeypatch
):
    services.order_place(customer=funded, product=shop_product, idempotency_key="k" * 16, actor=None)
    order_id = queued.pop()
    dead = Order.objects.create(customer=funded, product=shop_product, price_cents=1, idempotency_key="d" * 16)
    OrderLane.objects.create(
        key=lanes.lane_key(dead), holder="dead-worker", holder_order=dead, lease_until=timezone.now() + lanes.LEASE
    )
    monkeypatch.setattr(lanes, "WAIT_SECONDS", 0.05)

    with pytest.raises(lanes.LaneBusy):
        services.order_fulfil(order_id=order_id)
    assert Order.objects.get(pk=order_id).state == OrderState.PENDING

    OrderLane.objects.update(lease_until=timezone.now() - lanes.LEASE)  # the lease ran out
    services.order_fulfil(order_id=order_id)

    assert Order.objects.get(pk=order_id).state == OrderState.FULFILLED
    assert _purchases(sandbox) == 1


def test_a_second_order_of_the_plan_waits_while_one_is_in_flight(sandbox, funded, shop_product, queued, monkeypatch):
    services.order_place(customer=funded, product=shop_product, idempotency_key="a" * 16, actor=None)
    services.order_place(customer=funded, product=shop_product, idempotency_key="b" * 16, actor=None)
    first, second = queued
    monkeypatch.setattr(lanes, "WAIT_SECONDS", 0.05)
    OrderLane.objects.create(
        key=lanes.lane_key(Order.objects.get(pk=first)), holder="first", lease_until=timezone.now() + lanes.LEASE
    )

    with pytest.raises(lanes.LaneBusy):
        services.order_fulfil(order_id=second)
    assert Order.objects.get(pk=second).state == OrderState.PENDING
    assert _purchases(sandbox) == 0

    OrderLane.objects.update(holder="", lease_until=None)
    _work(queued)
    assert set(Order.objects.values_list("state", flat=True)) == {OrderState.FULFILLED}
    assert _purchases(sandbox) == 2


def test_an_order_whose_task_was_lost_is_queued_again_by_the_reconcile_run(sandbox, funded, shop_product, queued):
    services.order_place(customer=funded, product=shop_product, idempotency_key="l" * 16, actor=None)
    order_id = queued.pop()  # the message never reached a worker
    Order.objects.filter(pk=order_id).update(created_at=timezone.now() - tasks.GRACE * 2)

    tasks.reconcile_unknown_orders()

    assert queued == [order_id]
    _work(queued)
    assert Order.objects.get(pk=order_id).state == OrderState.FULFILLED
    assert _purchases(sandbox) == 1


def test_a_broker_that_refuses_the_task_leaves_a_charged_pending_order(sandbox, funded, shop_product, monkeypatch):
    def broker_down(order_id):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.fulfil_order, "delay", broker_down)

    order = services.order_place(customer=funded, product=shop_product, idempotency_key="d" * 16, actor=None)

    assert order.state == OrderState.PENDING
    assert services.customer_balance(customer=funded) == 3000
