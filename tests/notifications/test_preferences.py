"""Preferences per login decide the channels of each kind; staff get copies; notify never raises into its caller."""

from __future__ import annotations

import pytest

from notifications import services
from notifications.models import Channel, Delivery, Notification, TelegramLink
from tests.factories import UserFactory


def tell(customer, event="order.fulfilled", **extra):
    return services.notify(customer=customer, event=event, subject="Order 7 done", body="Done.", **extra)


def channels_of(notification: Notification) -> list[str]:
    return sorted(notification.deliveries.values_list("channel", flat=True))


def test_it_emails_every_kind_by_default(alice, customer_a, deliver_now, mailoutbox):
    with deliver_now():
        (notification,) = tell(customer_a)
    assert channels_of(notification) == ["email"]
    (email,) = mailoutbox
    assert email.to == ["alice@example.com"]
    assert email.subject == "Order 7 done"
    assert "Done." in email.body
    assert notification.deliveries.get().status == Delivery.Status.SENT


def test_it_sends_each_kind_only_to_the_chosen_channels(alice, customer_a, telegram, deliver_now, mailoutbox):
    telegram.press_start("a-code", chat_id="42")
    TelegramLink.objects.create(user=alice, chat_id="42")
    services.preferences_save(user=alice, channels={"order": ["telegram"], "payment": [], "expiry": ["email"]})
    with deliver_now():
        (order,) = tell(customer_a, event="order.failed")
        (payment,) = tell(customer_a, event="payment.credited")
        (expiry,) = tell(customer_a, event="alert.expiry")
    assert channels_of(order) == ["telegram"]
    assert channels_of(payment) == []  # the feed only
    assert channels_of(expiry) == ["email"]
    assert [email.subject for email in mailoutbox] == ["Order 7 done"]
    assert services.preferences_for(user=alice)["usage"] == []  # left out of the saved grid: none
    assert telegram.messages("42") == ["Order 7 done\n\nDone."]


def test_a_channel_that_is_not_set_up_gets_nothing(alice, customer_a):
    services.preferences_save(user=alice, channels={"order": ["telegram", "webhook"]})
    (notification,) = tell(customer_a)
    assert channels_of(notification) == []


def test_it_tells_each_active_login_of_that_customer_only(alice, bob, customer_a):
    colleague = UserFactory(username="alice2", customer=customer_a)
    UserFactory(username="gone", customer=customer_a, is_active=False)
    told = tell(customer_a)
    assert sorted(n.user.username for n in told) == ["alice", "alice2"]
    assert not Notification.objects.filter(user=bob).exists()
    assert colleague.notifications.get().subject == "Order 7 done"


def test_it_copies_staff_on_the_staff_channels(alice, customer_a, settings, deliver_now, mailoutbox):
    settings.STAFF_NOTIFY_EMAILS = ["ops@reseller.example"]
    with deliver_now():
        tell(customer_a)
    staff_copy = Notification.objects.get(user=None)
    assert staff_copy.customer == customer_a
    assert sorted(email.to[0] for email in mailoutbox) == ["alice@example.com", "ops@reseller.example"]


def test_the_same_key_tells_no_one_twice(alice, customer_a, settings):
    settings.STAFF_NOTIFY_EMAILS = ["ops@reseller.example"]
    assert len(tell(customer_a, key="order:7:fulfilled")) == 1
    assert tell(customer_a, key="order:7:fulfilled") == []
    assert Notification.objects.count() == 2  # alice's and the staff copy, once each


def test_it_never_raises_into_the_caller(alice, customer_a, caplog):
    assert services.notify(customer=customer_a, event="nonsense", subject="x", body="y") == []
    assert "could not record nonsense" in caplog.text


def test_a_failed_email_is_logged_and_retried(alice, customer_a, settings, deliver_now, monkeypatch):
    settings.EMAIL_BACKEND = "tests.inventory.test_alerts.FailingBackend"
    monkeypatch.setattr(services, "MAX_ATTEMPTS", 3)
    with deliver_now():
        (notification,) = tell(customer_a)
    delivery = notification.deliveries.get()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == 3
    assert "421 service not available" in delivery.error
    assert [attempt.ok for attempt in delivery.attempt_log.all()] == [False] * 3


def test_the_portal_grid_saves_the_choices(client, alice):
    client.force_login(alice)
    page = client.get("/portal/notifications/settings/").content.decode()
    assert 'name="expiry__email" id="id_expiry__email" checked' in page
    assert 'name="expiry__telegram" id="id_expiry__telegram">' in page
    response = client.post("/portal/notifications/settings/", {"expiry__telegram": "on", "order__email": "on"})
    assert response.status_code == 302
    chosen = services.preferences_for(user=alice)
    assert chosen["expiry"] == [Channel.TELEGRAM]
    assert chosen["order"] == [Channel.EMAIL]
    assert chosen["payment"] == []


@pytest.mark.parametrize("path", ["/portal/notifications/settings/", "/portal/notifications/"])
def test_staff_do_not_use_the_portal_settings(client, support, path):
    client.force_login(support)
    assert client.get(path).status_code == 403


def test_a_delivery_whose_task_was_lost_is_queued_again(alice, customer_a, deliver_now, mailoutbox):
    import datetime as dt

    from django.utils import timezone

    (notification,) = tell(customer_a)  # queued on a commit that never ran here: the task is lost
    delivery = notification.deliveries.get()
    assert services.deliveries_requeue() == 0  # too early to call it lost
    with deliver_now():
        assert services.deliveries_requeue(now=timezone.now() + dt.timedelta(minutes=15)) == 1
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert len(mailoutbox) == 1
