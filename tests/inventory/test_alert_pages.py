"""Alerts people can see: staff list them by state and acknowledge them (audited); a customer reads what we
sent them in the portal, and only that; the admin site lists them."""

from __future__ import annotations

import datetime as dt
import smtplib

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from inventory.alerts import alerts_check
from inventory.models import Alert
from ops.models import AuditEvent
from tests.factories import ResourceFactory

GB = 10**9


class FailingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise smtplib.SMTPException("421 service not available")


@pytest.fixture(autouse=True)
def alert_settings(settings):
    settings.ALERT_STAFF_EMAILS = ["ops@example.com"]
    settings.ALERT_EXPIRY_HORIZONS_DAYS = [7]
    settings.ALERT_USAGE_THRESHOLDS_PERCENT = [80]


def expiring(customer, label):
    return ResourceFactory(
        customer=customer,
        label=label,
        expires_at=timezone.now() + dt.timedelta(days=2),
        data_used_bytes=1 * GB,
        data_limit_bytes=100 * GB,
    )


@pytest.fixture
def sent(customer_a, mailoutbox):
    """An expiry alert for alice's proxy, emailed."""
    expiring(customer_a, "alicesoon")
    (alert,) = alerts_check()
    assert alert.delivered_at is not None
    return alert


@pytest.fixture
def failed(customer_b, settings):
    """An expiry alert for bob's proxy whose email failed."""
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    expiring(customer_b, "bobsoon")
    (alert,) = alerts_check()
    alert.refresh_from_db()
    assert alert.delivery_status == "failed"
    return alert


def rows(response) -> str:
    return response.content.decode().split('id="alert-rows"', 1)[1].split("</tbody>", 1)[0]


@pytest.mark.parametrize("who", ["owner", "support"])
def test_staff_see_open_alerts_with_their_delivery(client, request, who, sent, failed):
    client.force_login(request.getfixturevalue(who))
    response = client.get("/staff/alerts/")
    assert response.status_code == 200
    listed = rows(response)
    assert "alicesoon" in listed and "bobsoon" in listed
    assert "sent" in listed and "421 service not available" in listed


def test_the_delivery_failed_tab_shows_only_failures(client, support, sent, failed):
    client.force_login(support)
    listed = rows(client.get("/staff/alerts/?state=failed"))
    assert "bobsoon" in listed and "alicesoon" not in listed


def test_it_filters_by_kind(client, support, sent):
    client.force_login(support)
    assert "alicesoon" not in rows(client.get("/staff/alerts/?kind=usage"))
    assert "alicesoon" in rows(client.get("/staff/alerts/?kind=expiry"))
    assert "alicesoon" in rows(client.get("/staff/alerts/?kind=nonsense&state=nonsense"))


def test_acknowledging_moves_an_alert_out_of_the_open_list_and_is_audited(client, support, sent):
    client.force_login(support)
    response = client.post(f"/staff/alerts/{sent.pk}/acknowledge/", {"back": "/staff/alerts/?state=open"})
    assert response.status_code == 302
    assert response.url == "/staff/alerts/?state=open"
    sent.refresh_from_db()
    assert sent.acknowledged_by == support and sent.acknowledged_at is not None
    assert "alicesoon" not in rows(client.get("/staff/alerts/"))
    assert "alicesoon" in rows(client.get("/staff/alerts/?state=acknowledged"))
    event = AuditEvent.objects.get(action="alert.acknowledge")
    assert event.actor == support and event.customer == sent.customer and event.target_id == str(sent.pk)


def test_acknowledging_twice_changes_nothing(client, owner, support, sent):
    client.force_login(support)
    client.post(f"/staff/alerts/{sent.pk}/acknowledge/")
    client.force_login(owner)
    response = client.post(f"/staff/alerts/{sent.pk}/acknowledge/", follow=True)
    assert "already acknowledged" in response.content.decode()
    sent.refresh_from_db()
    assert sent.acknowledged_by == support
    assert AuditEvent.objects.filter(action="alert.acknowledge").count() == 1


def test_acknowledge_never_redirects_off_the_alert_list(client, support, sent):
    client.force_login(support)
    response = client.post(f"/staff/alerts/{sent.pk}/acknowledge/", {"back": "https://evil.example/"})
    assert response.url == "/staff/alerts/"


def test_acknowledge_needs_a_post_and_a_known_alert(client, support, sent):
    client.force_login(support)
    assert client.get(f"/staff/alerts/{sent.pk}/acknowledge/").status_code == 405
    assert client.post("/staff/alerts/987654/acknowledge/").status_code == 404


def test_customers_cannot_see_or_acknowledge_staff_alerts(client, alice, sent):
    client.force_login(alice)
    assert client.get("/staff/alerts/").status_code == 403
    assert client.post(f"/staff/alerts/{sent.pk}/acknowledge/").status_code == 403
    sent.refresh_from_db()
    assert sent.acknowledged_at is None


def test_a_customer_sees_what_we_sent_them_and_nothing_else(client, alice, bob, sent, failed, customer_b):
    bob_sent = Alert.objects.create(
        kind="usage", subject="resource:1", threshold="80%", cycle="x", message="bob's usage", customer=customer_b
    )
    Alert.objects.filter(pk=bob_sent.pk).update(delivered_at=timezone.now())
    client.force_login(alice)
    response = client.get("/portal/notifications/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "alicesoon" in page and "Open the proxy" in page
    assert "bobsoon" not in page and "bob&#x27;s usage" not in page
    client.force_login(bob)
    page = client.get("/portal/notifications/").content.decode()
    assert "bob&#x27;s usage" in page
    assert "bobsoon" not in page  # not delivered: nothing was sent to bob about it yet
    assert "alicesoon" not in page


def test_the_portal_never_shows_staff_only_alerts(client, alice, customer_a):
    Alert.objects.create(
        kind="low_balance", subject="account:1", threshold="10.00", cycle="d", message="our balance", customer=None
    )
    client.force_login(alice)
    assert "our balance" not in client.get("/portal/notifications/").content.decode()


def test_staff_do_not_use_the_portal_notifications(client, support):
    client.force_login(support)
    assert client.get("/portal/notifications/").status_code == 403


def test_the_admin_site_lists_alerts_and_acknowledges_them(client, owner, sent):
    client.force_login(owner)
    assert "alicesoon" in client.get("/admin/inventory/alert/").content.decode()
    assert client.get(f"/admin/inventory/alert/{sent.pk}/change/").status_code == 200
    response = client.post(
        "/admin/inventory/alert/", {"action": "acknowledge", "_selected_action": [sent.pk]}, follow=True
    )
    assert "Acknowledged 1 alert(s)." in response.content.decode()
    sent.refresh_from_db()
    assert sent.acknowledged_by == owner
