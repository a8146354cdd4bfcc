"""The portal feed: every notification sent to this login, an unread count in the navigation, mark as read."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications import services
from notifications.context_processors import unread
from notifications.models import Notification


def tell(customer, subject):
    return services.notify(customer=customer, event="order.fulfilled", subject=subject, body=f"{subject} body")


def badge(page: str) -> str:
    return page.split('title="Unread">', 1)[1].split("<", 1)[0] if 'title="Unread">' in page else ""


def test_the_feed_lists_this_logins_notifications_only(client, alice, bob, customer_a, customer_b):
    tell(customer_a, "Order 1 done")
    tell(customer_b, "Bob order done")
    client.force_login(alice)
    page = client.get("/portal/notifications/").content.decode()
    assert "Order 1 done" in page and "Bob order done" not in page
    assert badge(page) == "1"


def test_marking_one_read_lowers_the_count(client, alice, customer_a):
    (first,) = tell(customer_a, "Order 1 done")
    tell(customer_a, "Order 2 done")
    client.force_login(alice)
    assert badge(client.get("/portal/").content.decode()) == "2"
    assert client.post(f"/portal/notifications/{first.pk}/read/").status_code == 302
    first.refresh_from_db()
    assert first.read_at is not None
    assert badge(client.get("/portal/").content.decode()) == "1"


def test_marking_all_read_clears_the_badge(client, alice, customer_a):
    tell(customer_a, "Order 1 done")
    tell(customer_a, "Order 2 done")
    client.force_login(alice)
    client.post("/portal/notifications/read/")
    assert not Notification.objects.filter(user=alice, read_at__isnull=True).exists()
    assert badge(client.get("/portal/").content.decode()) == ""


def test_a_login_cannot_mark_anothers_notification(client, alice, bob, customer_b):
    (bobs,) = tell(customer_b, "Bob order done")
    client.force_login(alice)
    assert client.post(f"/portal/notifications/{bobs.pk}/read/").status_code == 404
    assert client.get(f"/portal/notifications/{bobs.pk}/read/").status_code == 405
    bobs.refresh_from_db()
    assert bobs.read_at is None


def test_the_count_costs_one_query(rf, alice, customer_a):
    tell(customer_a, "Order 1 done")
    request = rf.get("/portal/")
    request.user = alice
    with CaptureQueriesContext(connection) as queries:
        assert unread(request) == {"NOTIFICATIONS_UNREAD": 1}
    assert len(queries) == 1
