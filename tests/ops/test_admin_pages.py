"""Django admin for the raw data: every registered model's list opens, and the read-only records added last
(notifications, deliveries, bulk jobs) show what happened without showing a secret."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.utils import timezone

from inventory.models import BulkItem, BulkJob
from notifications.models import Delivery, DeliveryAttempt, Notification, TelegramLink, WebhookEndpoint
from tests.factories import ResourceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, owner):
    client.force_login(owner)
    return client


def changelist(model) -> str:
    return f"/admin/{model._meta.app_label}/{model._meta.model_name}/"


def test_every_registered_model_has_a_list_that_opens(admin_client):
    for model in admin.site._registry:
        response = admin_client.get(changelist(model))
        assert response.status_code == 200, (model, response.status_code)


def test_a_notification_shows_its_deliveries_and_each_delivery_its_attempts(admin_client, alice):
    notification = Notification.objects.create(
        user=alice,
        customer=alice.customer,
        event="order.fulfilled",
        kind="order",
        subject="Your order is ready",
        body=".",
    )
    delivery = Delivery.objects.create(
        notification=notification, channel="webhook", target="https://hooks.example.com/in", status="failed"
    )
    DeliveryAttempt.objects.create(delivery=delivery, status_code=502, error="bad gateway from the receiver")

    page = admin_client.get(f"{changelist(Notification)}{notification.pk}/change/").content.decode()
    assert "Your order is ready" in page and "https://hooks.example.com/in" in page
    page = admin_client.get(f"{changelist(Delivery)}{delivery.pk}/change/").content.decode()
    assert "bad gateway from the receiver" in page
    # Records of what happened: nobody adds, edits or deletes them here.
    assert admin_client.post(f"{changelist(Delivery)}{delivery.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Delivery.objects.filter(pk=delivery.pk).exists()


def test_webhook_secrets_and_pending_telegram_codes_never_show(admin_client, alice):
    endpoint = WebhookEndpoint.objects.create(
        user=alice, url="https://hooks.example.com/in", secret="whsec-topsecret42"
    )
    link = TelegramLink.objects.create(user=alice, code="link-code-secret-77", code_created_at=timezone.now())

    for url in (changelist(WebhookEndpoint), f"{changelist(WebhookEndpoint)}{endpoint.pk}/change/"):
        page = admin_client.get(url).content.decode()
        assert "hooks.example.com" in page and "whsec-topsecret42" not in page
    for url in (changelist(TelegramLink), f"{changelist(TelegramLink)}{link.pk}/change/"):
        page = admin_client.get(url).content.decode()
        assert "alice" in page and "link-code-secret-77" not in page


def test_a_bulk_job_lists_its_items_and_their_outcomes(admin_client, owner):
    job = BulkJob.objects.create(action=BulkJob.Action.REFRESH, actor=owner)
    done, failed = ResourceFactory(label="first-one"), ResourceFactory(label="second-one")
    BulkItem.objects.create(job=job, resource=done, outcome=BulkItem.Outcome.OK)
    BulkItem.objects.create(job=job, resource=failed, outcome=BulkItem.Outcome.FAILED, message="upstream said 404")

    page = admin_client.get(f"{changelist(BulkJob)}{job.pk}/change/").content.decode()
    assert "first-one" in page and "second-one" in page and "upstream said 404" in page
    assert admin_client.get(f"{changelist(BulkJob)}add/").status_code == 403
