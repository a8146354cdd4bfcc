"""An order's outcome is told to the customer's logins once (feed, chosen channels, webhook event type)."""

from __future__ import annotations

from billing import services
from notifications.models import Notification


def test_a_fulfilled_order_is_told_once(sandbox, funded, shop_product, alice):
    order = services.order_place(customer=funded, product=shop_product, idempotency_key="buy-1", actor=alice)
    services.order_place(customer=funded, product=shop_product, idempotency_key="buy-1", actor=alice)
    (notification,) = Notification.objects.filter(user=alice)
    assert notification.event == "order.fulfilled"
    assert notification.subject == f"Order {order.pk} done: Amsterdam private 30 days"
    assert notification.body == services.customer_message(order)
    assert notification.link == f"/portal/shop/orders/{order.pk}/"
    assert notification.data["order"] == order.pk


def test_a_failed_order_is_told_with_its_refund(sandbox, funded, sold_out_product, alice):
    order = services.order_place(customer=funded, product=sold_out_product, idempotency_key="buy-1", actor=alice)
    (notification,) = Notification.objects.filter(user=alice)
    assert notification.event == "order.failed"
    assert notification.body == services.customer_message(order)
    assert notification.data["error_code"] == order.error_code
