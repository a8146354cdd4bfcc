"""Mail through Celery: the EMAIL_BACKEND that queues each message, and the delivery the task runs.

A page that sends mail (password reset, an invitation) only queues it, so an SMTP outage never fails the page;
the `ops.send_email` task sends it with the real backend (EMAIL_DELIVERY_BACKEND, from EMAIL_URL) and retries
with a growing wait while the server is down. Alerts are already sent by a Celery task that records each
failure on the alert and retries it itself, so they use `sending_connection()` directly.
"""

from __future__ import annotations

import base64
import smtplib
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

QUEUED_BACKEND = "ops.mail.QueuedEmailBackend"
MAX_RETRIES = 10
RETRY_COUNTDOWN_BASE_SECONDS = 30
RETRY_COUNTDOWN_MAX_SECONDS = 30 * 60  # settings' broker visibility timeout must outlast this


class QueuedEmailBackend(BaseEmailBackend):
    """Queues every message for the `ops.send_email` task (after the current transaction commits)."""

    def send_messages(self, email_messages) -> int:
        from ops.tasks import send_email

        queued = 0
        for message in email_messages:
            if not message.recipients():
                continue
            payload = message_payload(message)
            # Logs, events and Flower show this instead of the body, which may hold a password-reset link.
            shown = f"<mail {message.subject!r} to {len(message.recipients())} recipient(s)>"
            transaction.on_commit(lambda p=payload, s=shown: send_email.apply_async(args=[p], argsrepr=s))
            queued += 1
        return queued


def sending_connection():
    """A connection to the backend that really sends: EMAIL_DELIVERY_BACKEND behind the queue, else EMAIL_BACKEND."""
    backend = settings.EMAIL_BACKEND
    if backend == QUEUED_BACKEND:
        backend = settings.EMAIL_DELIVERY_BACKEND
    if backend == QUEUED_BACKEND:
        raise ValueError("EMAIL_DELIVERY_BACKEND must be a backend that sends, not the queue itself.")
    return get_connection(backend)


def is_worth_retrying(exc: Exception) -> bool:
    """A server that is down or busy may answer later; one that refused every recipient will not."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return False
    return isinstance(exc, smtplib.SMTPException | OSError)


def retry_countdown(retries: int) -> int:
    """30 s, 1 min, 2 min, ... up to 30 min between tries: about four hours in all before giving up."""
    return min(RETRY_COUNTDOWN_MAX_SECONDS, RETRY_COUNTDOWN_BASE_SECONDS * 2**retries)


def deliver(payload: dict[str, Any]) -> None:
    """Send one queued message now; raises whatever the backend raises."""
    message = message_from_payload(payload)
    message.connection = sending_connection()
    message.send()


# The message as JSON (the broker's serializer) --------------------------------------------------------


def message_payload(message: EmailMessage) -> dict[str, Any]:
    attachments = []
    for attachment in message.attachments:
        if not isinstance(attachment, tuple):
            raise TypeError("A MIME attachment cannot be queued; attach (filename, content, mimetype) instead.")
        filename, content, mimetype = attachment
        if isinstance(content, bytes):
            attachments.append([filename, base64.b64encode(content).decode(), mimetype, "base64"])
        else:
            attachments.append([filename, content, mimetype, "text"])
    return {
        "subject": message.subject,
        "body": message.body,
        "from_email": message.from_email,
        "to": list(message.to),
        "cc": list(message.cc),
        "bcc": list(message.bcc),
        "reply_to": list(message.reply_to),
        "headers": dict(message.extra_headers),
        "content_subtype": message.content_subtype,
        "alternatives": [[content, mimetype] for content, mimetype in getattr(message, "alternatives", [])],
        "attachments": attachments,
    }


def message_from_payload(payload: dict[str, Any]) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=payload["subject"],
        body=payload["body"],
        from_email=payload["from_email"],
        to=payload["to"],
        cc=payload["cc"],
        bcc=payload["bcc"],
        reply_to=payload["reply_to"],
        headers=payload["headers"],
    )
    message.content_subtype = payload["content_subtype"]
    for content, mimetype in payload["alternatives"]:
        message.attach_alternative(content, mimetype)
    for filename, content, mimetype, encoding in payload["attachments"]:
        message.attach(filename, base64.b64decode(content) if encoding == "base64" else content, mimetype)
    return message
