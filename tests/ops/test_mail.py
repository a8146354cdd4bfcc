"""Mail goes out through a Celery task: an SMTP outage never breaks the page that sent it, and the task retries."""

from __future__ import annotations

import smtplib

import pytest
from celery.signals import task_retry
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.urls import reverse

from ops import mail as ops_mail
from tests.support.processes import free_port

QUEUED = "ops.mail.QueuedEmailBackend"


class FlakySMTP(LocmemBackend):
    """A mail server that is down for the first `down_for` connections, then delivers (to mail.outbox)."""

    down_for = 2
    attempts = 0

    def send_messages(self, messages):
        type(self).attempts += 1
        if type(self).attempts <= type(self).down_for:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


class RefusingSMTP(LocmemBackend):
    """A mail server that refuses every recipient: asking again will not help."""

    def send_messages(self, messages):
        raise smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"no such user")})


@pytest.fixture
def eager():
    """Queued tasks run at once in this process, retries included (no broker, no worker)."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def retries():
    seen = []

    def record(sender=None, reason=None, **kwargs):
        seen.append(reason.when)

    task_retry.connect(record, weak=False)
    yield seen
    task_retry.disconnect(record)


@pytest.fixture
def smtp_down(settings):
    """The real SMTP backend, pointed at a port where no mail server listens."""
    settings.EMAIL_BACKEND = QUEUED
    settings.EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False


def test_a_password_reset_still_answers_when_smtp_is_down_and_the_task_retries(
    client, alice, smtp_down, eager, retries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = client.post(reverse("accounts:password_reset"), {"email": alice.email})

    assert response.status_code == 302
    assert response.url == reverse("accounts:password_reset_done")
    assert len(queued) == 1
    # Every try met the closed port; each was retried with a longer wait, up to the cap.
    assert len(retries) == ops_mail.MAX_RETRIES
    assert retries[:4] == [30, 60, 120, 240]
    assert max(retries) == ops_mail.RETRY_COUNTDOWN_MAX_SECONDS


def test_the_reset_mail_arrives_once_the_server_is_back(
    client, alice, settings, eager, retries, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = QUEUED
    settings.EMAIL_DELIVERY_BACKEND = f"{__name__}.FlakySMTP"
    FlakySMTP.attempts = 0

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:password_reset"), {"email": alice.email})

    assert response.status_code == 302
    assert retries == [30, 60]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [alice.email]
    assert "/accounts/reset/" in mail.outbox[0].body


def test_nothing_is_sent_until_the_transaction_commits(alice, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = QUEUED
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert mail.send_mail("Hello", "Body", None, [alice.email]) == 1
    assert len(queued) == 1
    assert mail.outbox == []


def test_a_refused_recipient_is_not_retried(settings, eager, retries, django_capture_on_commit_callbacks, db):
    settings.EMAIL_BACKEND = QUEUED
    settings.EMAIL_DELIVERY_BACKEND = f"{__name__}.RefusingSMTP"
    with django_capture_on_commit_callbacks(execute=True):
        mail.send_mail("Hello", "Body", None, ["x@example.com"])
    assert retries == []


def test_a_queued_message_keeps_its_parts():
    message = EmailMultiAlternatives(
        "Invoice", "text body", "shop@example.com", ["a@example.com"], bcc=["b@example.com"], cc=["c@example.com"]
    )
    message.reply_to = ["help@example.com"]
    message.extra_headers = {"X-Kind": "invoice"}
    message.attach_alternative("<p>html body</p>", "text/html")
    message.attach("invoice.pdf", b"%PDF-1.4 \x00\xff", "application/pdf")
    message.attach("notes.txt", "plain notes", "text/plain")

    copy = ops_mail.message_from_payload(ops_mail.message_payload(message))

    for field in ("subject", "body", "from_email", "to", "cc", "bcc", "reply_to", "extra_headers"):
        assert getattr(copy, field) == getattr(message, field)
    assert copy.alternatives == [("<p>html body</p>", "text/html")]
    assert [tuple(a) for a in copy.attachments] == [
        ("invoice.pdf", b"%PDF-1.4 \x00\xff", "application/pdf"),
        ("notes.txt", "plain notes", "text/plain"),
    ]


def test_the_queue_cannot_be_its_own_delivery_backend(settings):
    settings.EMAIL_BACKEND = settings.EMAIL_DELIVERY_BACKEND = QUEUED
    with pytest.raises(ValueError, match="must be a backend that sends"):
        ops_mail.sending_connection()
