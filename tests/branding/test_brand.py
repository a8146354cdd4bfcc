"""Our own brand: the configured name, colours, support address and footer on every page and in every email."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Customer
from branding.brand import current
from branding.models import BrandOverride
from inventory.alerts import alerts_check
from notifications import services
from ops.models import AuditEvent
from tests.factories import ProviderAccountFactory, ResourceFactory

DEFAULT_NAME = "Proxy Reseller"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def acme(settings):
    settings.BRAND_SITE_NAME = "Acme Proxies"
    settings.BRAND_SUPPORT_EMAIL = "help@acme.example"
    settings.BRAND_FOOTER = "Acme Networks Ltd, 1 Main St"
    settings.BRAND_ACCENT_COLOUR = "#aa3300"
    settings.BRAND_EMAIL_SUBJECT_PREFIX = "[Acme]"
    settings.DEFAULT_FROM_EMAIL = "Acme Proxies <no-reply@acme.example>"
    settings.OTP_TOTP_ISSUER = "Acme Proxies"
    settings.EMAIL_BACKEND = LOCMEM
    settings.EMAIL_DELIVERY_BACKEND = LOCMEM


def assert_branded(text: str) -> None:
    assert DEFAULT_NAME not in text
    assert "Acme Proxies" in text


@pytest.mark.parametrize(
    "who, path",
    [
        (None, "/accounts/login/"),
        (None, "/accounts/password/reset/"),
        ("alice", "/portal/"),
        ("alice", "/portal/notifications/"),
        ("alice", "/portal/notifications/settings/"),
        ("alice", "/portal/shop/"),
        ("owner", "/staff/"),
        ("owner", "/staff/alerts/"),
        ("owner", "/staff/brand/"),
        ("owner", "/accounts/2fa/"),
    ],
)
def test_every_page_shows_the_configured_brand(client, acme, alice, owner, who, path):
    if who:
        client.force_login({"alice": alice, "owner": owner}[who])
    response = client.get(path, follow=True)
    assert response.status_code == 200, path
    page = response.content.decode()
    assert_branded(page)
    assert "--accent: #aa3300" in page
    assert "help@acme.example" in page and "Acme Networks Ltd, 1 Main St" in page


def test_every_email_carries_the_brand(client, acme, owner, alice, customer_a, settings, deliver_now):
    settings.STAFF_NOTIFY_EMAILS = ["ops@acme.example"]
    now = timezone.now()
    # An alert to a customer without logins (emailed at the contact address) and one to a customer's login.
    loginless = Customer.objects.create(name="No Logins Ltd", contact_email="contact@nologins.example")
    ResourceFactory(customer=loginless, label="loneproxy", expires_at=now + dt.timedelta(days=2), data_used_bytes=0)
    ResourceFactory(customer=customer_a, label="alicesoon", expires_at=now + dt.timedelta(days=2), data_used_bytes=0)
    ProviderAccountFactory(name="Main upstream")
    with deliver_now():
        alerts_check(now=now)
        services.notify(customer=customer_a, event="order.fulfilled", subject="Order 1 done", body="Done.")
        client.post("/accounts/password/reset/", {"email": alice.email})
        client.force_login(owner)
        client.post(f"/staff/customers/{customer_a.pk}/logins/", {"username": "alice2", "email": "a2@example.com"})
    assert mail.outbox, "no email was sent"
    for message in mail.outbox:
        assert DEFAULT_NAME not in message.subject + message.body + message.from_email, message.subject
        assert message.subject.startswith("[Acme] "), message.subject
        assert "Acme Proxies" in message.body, message.subject
    subjects = {message.subject for message in mail.outbox}
    assert {"[Acme] Order 1 done", "[Acme] Reset your Acme Proxies password", "[Acme] Your Acme Proxies login"} <= (
        subjects
    )
    assert any("loneproxy" in subject for subject in subjects) and any("alicesoon" in s for s in subjects)


def test_the_owner_edits_the_brand_and_it_is_audited(client, owner):
    client.force_login(owner)
    response = client.post(
        "/staff/brand/",
        {"site_name": "Night Owl Proxies", "accent_colour": "#112233", "support_email": "owl@example.com"},
    )
    assert response.status_code == 302
    assert current().site_name == "Night Owl Proxies"
    assert current().footer == ""  # blank: the setting's
    page = client.get("/staff/").content.decode()
    assert "Night Owl Proxies" in page and DEFAULT_NAME not in page
    event = AuditEvent.objects.get(action="branding.update")
    assert event.actor == owner
    assert event.data["changed"]["site_name"] == "Night Owl Proxies"


@pytest.mark.parametrize(
    "field, value",
    [
        ("accent_colour", "red; background: url(x)"),
        ("logo_svg", '<svg onload="alert(1)"></svg>'),
        ("logo_svg", "<script>alert(1)</script>"),
    ],
)
def test_it_refuses_what_could_break_or_script_every_page(client, owner, field, value):
    client.force_login(owner)
    assert client.post("/staff/brand/", {field: value}).status_code == 400
    assert not BrandOverride.objects.exists()


def test_only_the_owner_edits_the_brand(client, support, alice):
    for user in (support, alice):
        client.force_login(user)
        assert client.get("/staff/brand/").status_code == 403
        assert client.post("/staff/brand/", {"site_name": "Mine"}).status_code == 403
    assert not BrandOverride.objects.exists()
