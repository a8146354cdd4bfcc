"""A top-up credited by the gateway's webhook is told to the customer once, however often the event comes."""

from __future__ import annotations

from notifications.models import Notification


def test_a_credited_top_up_is_told_once(twin, open_payment, alice):
    twin.pay(open_payment)
    twin.control(f"events/{twin.stripe.deliveries[0]['event']}/redeliver")
    (notification,) = Notification.objects.filter(user=alice)
    assert notification.event == "payment.credited"
    assert notification.subject == "Top-up credited: 20.00 USD"
    assert notification.link == f"/portal/shop/payments/{open_payment.pk}/"
