"""What we tell customers and staff, where, and whether it arrived.

A `Notification` is one event told to one recipient (a customer login, or the staff copy); it is the
portal feed's row. Each channel it goes out on is a `Delivery` with its attempts (the delivery log).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Kind(models.TextChoices):
    """What a customer chooses channels for (the rows of the preferences grid)."""

    EXPIRY = "expiry", "Expiry reminders"
    USAGE = "usage", "Data usage"
    OFFLINE = "offline", "Connection offline"
    ORDER = "order", "Orders"
    PAYMENT = "payment", "Payments"
    RENEWAL = "renewal", "Auto-renew results"
    CHANGE = "change", "Changes to your proxies"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    TELEGRAM = "telegram", "Telegram"
    WEBHOOK = "webhook", "Webhook"


class Preference(models.Model):
    """Which channels each kind goes to for one login; a kind not listed keeps the default (email)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notify_preference")
    channels = models.JSONField(default=dict, blank=True)  # {"expiry": ["email", "telegram"], ...}
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Preferences of {self.user}"


class TelegramLink(models.Model):
    """A login's Telegram chat: a one-time code until the user presses Start in our bot, then the chat id."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_link")
    code = models.CharField(max_length=64, unique=True, null=True, blank=True)
    code_created_at = models.DateTimeField(null=True, blank=True)
    chat_id = models.CharField(max_length=40, blank=True)
    chat_name = models.CharField(max_length=200, blank=True)
    linked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Telegram of {self.user}: {self.chat_name or self.chat_id or 'not linked'}"

    @property
    def is_linked(self) -> bool:
        return bool(self.chat_id)


class WebhookEndpoint(models.Model):
    """A URL of the customer's that receives signed JSON events; the secret is shown once, at creation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=80)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.url


class Notification(models.Model):
    """One event told to one recipient: a customer login, or staff (user empty)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    customer = models.ForeignKey("accounts.Customer", null=True, blank=True, on_delete=models.CASCADE)
    # The caller's name for the event ("alert:12"): telling the same event twice adds nothing.
    key = models.CharField(max_length=100, blank=True)
    event = models.CharField(max_length=60)  # order.fulfilled, alert.expiry, payment.credited, ...
    kind = models.CharField(max_length=20, choices=Kind.choices)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    link = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], condition=~Q(key=""), name="notification_once_per_key")
        ]

    def __str__(self) -> str:
        return self.subject


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    target = models.CharField(max_length=500)  # an address, a chat id, a URL
    endpoint = models.ForeignKey(WebhookEndpoint, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} to {self.target}: {self.status}"


class DeliveryAttempt(models.Model):
    """One try of a delivery: what the other side answered (the log staff and the customer read)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
    ok = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"


class TelegramPollState(models.Model):
    """The next getUpdates offset (one row): updates before it were handled and are confirmed to Telegram."""

    next_offset = models.BigIntegerField(null=True, blank=True)
    polled_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"getUpdates offset {self.next_offset}"
