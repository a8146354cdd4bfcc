"""Signed webhooks: the customer's endpoint gets a signed JSON event, retried with backoff after a 500, logged."""

from __future__ import annotations

import json
import socket

import pytest

from notifications import services, signing
from notifications.models import Delivery, WebhookEndpoint


@pytest.fixture
def endpoint(alice, receiver):
    services.preferences_save(user=alice, channels={"order": ["webhook"], "expiry": ["email", "webhook"]})
    return services.webhook_endpoint_create(user=alice, url=receiver.url)


def test_it_retries_after_a_500_and_signs_each_try(customer_a, endpoint, receiver, deliver_now):
    receiver.statuses = [500]
    with deliver_now():
        (notification,) = services.notify(
            customer=customer_a,
            event="order.fulfilled",
            subject="Order 7 done: ISP proxies",
            body="Done: ISP proxies — 12.00 was charged.",
            link="/portal/shop/orders/7/",
            data={"order": 7},
        )
    assert len(receiver.received) == 2
    for request in receiver.received:
        header = request["headers"][signing.HEADER]
        assert signing.verify(secret=endpoint.secret, body=request["body"], header=header)
        assert not signing.verify(secret="whsec_wrong", body=request["body"], header=header)
        assert not signing.verify(secret=endpoint.secret, body=request["body"] + b" ", header=header)
        assert request["headers"]["X-Event-Type"] == "order.fulfilled"
    event = json.loads(receiver.received[1]["body"])
    assert event["type"] == "order.fulfilled"
    assert event["id"] == f"ntf_{notification.pk}"
    assert event["data"]["order"] == 7
    assert event["data"]["message"] == "Done: ISP proxies — 12.00 was charged."
    delivery = notification.deliveries.get()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.attempts == 2
    log = list(delivery.attempt_log.all())
    assert [(attempt.status_code, attempt.ok) for attempt in log] == [(500, False), (200, True)]
    assert log[1].response_excerpt == '{"received": true}'


def test_the_wait_between_tries_grows_to_an_hour_at_most():
    assert [services.retry_countdown(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert services.retry_countdown(20) == 3600


def test_it_gives_up_after_the_last_attempt(customer_a, endpoint, receiver, deliver_now, monkeypatch):
    monkeypatch.setattr(services, "MAX_ATTEMPTS", 3)
    receiver.statuses = [503] * 5
    with deliver_now():
        (notification,) = services.notify(customer=customer_a, event="order.failed", subject="s", body="b")
    delivery = notification.deliveries.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (Delivery.Status.FAILED, 3, 503)
    assert len(receiver.received) == 3


def test_a_signature_too_old_is_refused():
    body = b'{"type":"order.fulfilled"}'
    header = signing.sign(secret="whsec_x", body=body, timestamp=1_000_000)
    assert signing.verify(secret="whsec_x", body=body, header=header, now=1_000_100)
    assert not signing.verify(secret="whsec_x", body=body, header=header, now=1_000_000 + 3600)
    assert not signing.verify(secret="whsec_x", body=body, header="t=abc,v1=00")


@pytest.mark.parametrize(
    "url, says",
    [
        ("http://hooks.example.com/x", "Use an https URL."),
        ("ftp://hooks.example.com/x", "Use an http(s) URL."),
        ("https://127.0.0.1/x", "127.0.0.1 is a private address."),
        ("https://10.1.2.3/x", "10.1.2.3 is a private address."),
    ],
)
def test_it_refuses_urls_into_our_network(settings, url, says):
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = False
    assert services.webhook_url_refusal(url, resolve=True) == says


def test_the_portal_shows_a_new_secret_once_and_the_delivery_log(client, alice, customer_a, receiver, deliver_now):
    client.force_login(alice)
    page = client.post("/portal/notifications/webhooks/", {"url": receiver.url}).content.decode()
    endpoint = WebhookEndpoint.objects.get(user=alice)
    assert endpoint.secret in page and "shown only now" in page
    services.preferences_save(user=alice, channels={"payment": ["webhook"]})
    receiver.statuses = [500]
    with deliver_now():
        services.notify(customer=customer_a, event="payment.credited", subject="Top-up credited", body="b")
    page = client.get("/portal/notifications/settings/").content.decode()
    assert endpoint.secret not in page
    assert "payment.credited" in page and "HTTP 500" in page and "HTTP 200" in page


def test_staff_see_every_delivery_and_its_attempts(client, support, customer_a, endpoint, receiver, deliver_now):
    receiver.statuses = [500]
    with deliver_now():
        services.notify(customer=customer_a, event="order.fulfilled", subject="s", body="b")
    client.force_login(support)
    page = client.get("/staff/notifications/deliveries/?channel=webhook").content.decode()
    assert "order.fulfilled" in page and "HTTP 500" in page and "alice · Alice Analytics Ltd" in page


def test_a_customer_cannot_delete_another_customers_endpoint(client, bob, endpoint):
    client.force_login(bob)
    assert client.post(f"/portal/notifications/webhooks/{endpoint.pk}/delete/").status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_a_name_that_rebinds_into_our_network_after_the_check_is_never_reached(
    alice, customer_a, settings, deliver_now, monkeypatch
):
    """DNS rebinding: the name answers our check with a public address, and any later lookup with ours."""
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = False
    monkeypatch.setattr(services, "WEBHOOK_TIMEOUT_SECONDS", 1)
    inside = socket.socket()  # a service inside our network that must never be reached
    inside.bind(("127.0.0.1", 0))
    inside.listen()
    inside.settimeout(0.2)
    port = inside.getsockname()[1]
    real_lookup = socket.getaddrinfo
    lookups = []

    def rebinding(host, *args, **kwargs):
        if host != "hooks.rebind.test":
            return real_lookup(host, *args, **kwargs)
        lookups.append(host)
        address = "93.184.215.14" if len(lookups) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    services.preferences_save(user=alice, channels={"order": ["webhook"]})
    services.webhook_endpoint_create(user=alice, url=f"https://hooks.rebind.test:{port}/hooks/proxies")
    with deliver_now():
        (notification,) = services.notify(
            customer=customer_a, event="order.fulfilled", subject="Order 8 done", body="Done.", data={"order": 8}
        )
    with pytest.raises(TimeoutError):
        inside.accept()  # nobody connected to it
    inside.close()
    delivery = notification.deliveries.get()
    assert delivery.status == Delivery.Status.FAILED
    # The first try went to the public address it checked (and could not connect); the next lookup's answer was
    # checked too, and refused.
    assert delivery.error == "hooks.rebind.test is a private address."
