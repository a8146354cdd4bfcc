"""Telling people things: `notify()` records one Notification per recipient and queues its deliveries.

Callers (alerts, orders, payments) pass plain data: the customer, an event name (`order.fulfilled`,
`alert.expiry`, ...), a subject, a body and a link. Each active login of that customer gets a feed row
and a delivery on every channel its preferences choose for the event's kind (email by default); staff
get a copy on the staff channels (STAFF_NOTIFY_EMAILS, STAFF_TELEGRAM_CHAT_ID). Deliveries are Celery
tasks queued on commit that retry with a growing wait; nothing here raises into the caller.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import secrets
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from accounts.models import Customer, Role, User
from branding.brand import current as current_brand
from notifications import signing
from notifications.models import (
    Channel,
    Delivery,
    DeliveryAttempt,
    Kind,
    Notification,
    Preference,
    TelegramLink,
    TelegramPollState,
    WebhookEndpoint,
)
from notifications.telegram import StartCommand, TelegramClient, TelegramError
from ops import audit, mail

logger = logging.getLogger(__name__)

DEFAULT_CHANNELS = (Channel.EMAIL,)
STAFF_CHANNELS = (Channel.EMAIL, Channel.TELEGRAM)
MAX_ATTEMPTS = 8
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
EXCERPT = 300
WEBHOOK_TIMEOUT_SECONDS = 10
LINK_CODE_TTL = dt.timedelta(hours=1)
LOST_AFTER = dt.timedelta(minutes=10)
GIVE_UP_AFTER = dt.timedelta(days=2)
BOT_USERNAME_CACHE_KEY = "notifications:telegram-bot-username"
# The event's first word names its kind, except alerts, whose second word does (alert.expiry -> expiry).
KIND_OF_PREFIX = {"order": Kind.ORDER, "payment": Kind.PAYMENT, "renewal": Kind.RENEWAL, "drift": Kind.CHANGE}


def kind_of(event: str) -> str:
    head, _, tail = event.partition(".")
    if head == "alert" and tail in Kind.values:
        return tail
    if head in KIND_OF_PREFIX:
        return KIND_OF_PREFIX[head]
    raise ValueError(f"No notification kind for the event {event!r}.")


# Telling ------------------------------------------------------------------------------------------


def notify(
    *,
    customer: Customer | None,
    event: str,
    subject: str,
    body: str,
    link: str = "",
    key: str = "",
    data: dict | None = None,
    staff_channels: Iterable[str] = STAFF_CHANNELS,
) -> list[Notification]:
    """Tell the customer's active logins (per their preferences) and staff; returns the new feed rows.

    `key` names the event for the caller ("alert:12", "order:7:fulfilled"): a second call with it adds nothing.
    Never raises: a failure is logged, and the caller's own work stands.
    """
    try:
        with transaction.atomic():
            return _notify(
                customer=customer,
                event=event,
                subject=subject,
                body=body,
                link=link,
                key=key,
                data=data or {},
                staff_channels=tuple(staff_channels),
            )
    except Exception:
        logger.exception("notifications: could not record %s for customer %s", event, getattr(customer, "pk", None))
        return []


def _notify(*, customer, event, subject, body, link, key, data, staff_channels) -> list[Notification]:
    kind = kind_of(event)
    fields = {"event": event, "kind": kind, "subject": subject[:300], "body": body, "link": link, "data": data}
    created: list[Notification] = []
    for user in customer_logins(customer) if customer is not None else []:
        notification = _record(user=user, customer=customer, key=key, fields=fields)
        if notification is None:
            continue
        created.append(notification)
        for channel in channels_for(user=user, kind=kind):
            for target, endpoint in _targets(user, channel):
                _queue(notification, channel=channel, target=target, endpoint=endpoint)
    staff_targets = [(channel, target) for channel in staff_channels for target in staff_targets_for(channel)]
    if staff_targets and not (key and Notification.objects.filter(user=None, key=key).exists()):
        staff_copy = Notification.objects.create(user=None, customer=customer, key=key, **fields)
        for channel, target in staff_targets:
            _queue(staff_copy, channel=channel, target=target, endpoint=None)
    return created


def _record(*, user: User, customer: Customer, key: str, fields: dict) -> Notification | None:
    if key and Notification.objects.filter(user=user, key=key).exists():
        return None
    try:
        with transaction.atomic():
            return Notification.objects.create(user=user, customer=customer, key=key, **fields)
    except IntegrityError:  # a concurrent call recorded it first
        return None


def customer_logins(customer: Customer) -> QuerySet[User]:
    return User.objects.filter(customer=customer, role=Role.CUSTOMER, is_active=True).order_by("pk")


def staff_targets_for(channel: str) -> list[str]:
    if channel == Channel.EMAIL:
        return list(dict.fromkeys(settings.STAFF_NOTIFY_EMAILS))
    if channel == Channel.TELEGRAM and settings.STAFF_TELEGRAM_CHAT_ID and settings.TELEGRAM_BOT_TOKEN:
        return [settings.STAFF_TELEGRAM_CHAT_ID]
    return []


def _targets(user: User, channel: str) -> list[tuple[str, WebhookEndpoint | None]]:
    if channel == Channel.EMAIL:
        address = user.email or (user.customer.contact_email if user.customer else "")
        return [(address, None)] if address else []
    if channel == Channel.TELEGRAM:
        link = TelegramLink.objects.filter(user=user).exclude(chat_id="").first()
        return [(link.chat_id, None)] if link and settings.TELEGRAM_BOT_TOKEN else []
    if channel == Channel.WEBHOOK:
        return [(endpoint.url, endpoint) for endpoint in user.webhook_endpoints.filter(enabled=True)]
    return []


def _queue(notification: Notification, *, channel: str, target: str, endpoint: WebhookEndpoint | None) -> None:
    from notifications.tasks import deliver

    delivery = Delivery.objects.create(notification=notification, channel=channel, target=target, endpoint=endpoint)
    # Robust: a broker that is down must not undo the feed row; the sweep (deliveries_requeue) sends it later.
    transaction.on_commit(lambda: deliver.delay(delivery.pk), robust=True)


# Preferences ---------------------------------------------------------------------------------------


def preferences_for(*, user: User) -> dict[str, list[str]]:
    """Every kind with its channels: the login's choices, email for a kind it never chose."""
    chosen = Preference.objects.filter(user=user).values_list("channels", flat=True).first() or {}
    return {kind: list(chosen.get(kind, DEFAULT_CHANNELS)) for kind in Kind.values}


def channels_for(*, user: User, kind: str) -> list[str]:
    return preferences_for(user=user)[kind]


def preferences_save(*, user: User, channels: dict[str, Iterable[str]]) -> dict[str, list[str]]:
    """Store the whole grid (a kind left out gets no channel); unknown kinds or channels are refused."""
    cleaned: dict[str, list[str]] = {}
    for kind in Kind.values:
        wanted = list(dict.fromkeys(channels.get(kind, ())))
        unknown = set(wanted) - set(Channel.values)
        if unknown:
            raise ValueError(f"Unknown channels: {sorted(unknown)}")
        cleaned[kind] = [channel for channel in Channel.values if channel in wanted]
    Preference.objects.update_or_create(user=user, defaults={"channels": cleaned})
    return cleaned


# The feed ------------------------------------------------------------------------------------------


def feed_for(*, user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).prefetch_related("deliveries").order_by("-created_at", "-pk")


def unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_mark_read(*, user: User, notification_id: int | None = None) -> int:
    """Mark one of the login's notifications (or all of them) read; returns how many changed."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_id is not None:
        unread = unread.filter(pk=notification_id)
    return unread.update(read_at=timezone.now())


# Deliveries ----------------------------------------------------------------------------------------


def retry_countdown(attempts: int) -> int:
    """30 s, 1 min, 2 min, ... at most an hour: a receiver that is down gets time to come back."""
    return min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS)


def delivery_attempt(*, delivery_id: int) -> bool | None:
    """Try one delivery once and log the attempt; True sent, False worth retrying, None done (sent or given up)."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("notification", "endpoint")
            .filter(pk=delivery_id, status=Delivery.Status.PENDING)
            .first()
        )
        if delivery is None:
            return None
        delivery.attempts += 1
        status_code, excerpt, error, retry = _send(delivery)
        ok = not error
        DeliveryAttempt.objects.create(
            delivery=delivery, status_code=status_code, response_excerpt=excerpt[:EXCERPT], error=error[:500], ok=ok
        )
        delivery.last_status_code = status_code
        delivery.error = error[:500]
        if ok:
            delivery.status, delivery.sent_at = Delivery.Status.SENT, timezone.now()
        elif not retry or delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = Delivery.Status.FAILED
        delivery.save()
    if ok:
        return True
    return False if delivery.status == Delivery.Status.PENDING else None


def _send(delivery: Delivery) -> tuple[int | None, str, str, bool]:
    """(status code, response excerpt, error or "", worth retrying) of one try on the delivery's channel."""
    try:
        if delivery.channel == Channel.EMAIL:
            _email(delivery).send()
            return None, "", "", False
        if delivery.channel == Channel.TELEGRAM:
            message_id = telegram_client().send_message(
                chat_id=delivery.target, text=_plain_text(delivery.notification)
            )
            return 200, f"message {message_id}", "", False
        if delivery.channel == Channel.WEBHOOK:
            return _post_webhook(delivery)
        return None, "", f"Unknown channel {delivery.channel}", False
    except TelegramError as exc:
        return exc.status, "", str(exc), exc.retry
    except Exception as exc:
        logger.exception("notifications: delivery %s failed", delivery.pk)
        return None, "", f"{type(exc).__name__}: {exc}", mail.is_worth_retrying(exc)


def deliveries_requeue(*, now: dt.datetime | None = None) -> int:
    """Queue again the pending deliveries whose task was lost (broker down when queued, worker died mid-retry).

    A delivery is presumed lost when nothing happened to it for longer than its next retry's wait plus a margin.
    """
    from notifications.tasks import deliver

    now = now or timezone.now()
    pending = Delivery.objects.filter(status=Delivery.Status.PENDING, created_at__gte=now - GIVE_UP_AFTER).annotate(
        last_try=Max("attempt_log__at")
    )
    lost = [
        delivery.pk
        for delivery in pending
        if now - (delivery.last_try or delivery.created_at)
        > dt.timedelta(seconds=retry_countdown(delivery.attempts + 1)) + LOST_AFTER
    ]
    for delivery_id in lost:
        deliver.delay(delivery_id)
    return len(lost)


def absolute(link: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{link}" if link.startswith("/") and settings.SITE_URL else link


def _message(notification: Notification) -> str:
    parts = [notification.body.strip()]
    if notification.link:
        parts += ["", absolute(notification.link)]
    return "\n".join(parts)


def _plain_text(notification: Notification) -> str:
    return f"{notification.subject}\n\n{_message(notification)}"


def _email(delivery: Delivery) -> EmailMessage:
    brand = current_brand()
    notification = delivery.notification
    body = f"{_message(notification)}\n\n{brand.signature}\n"
    return EmailMessage(
        subject=f"{brand.subject_prefix}{notification.subject}",
        body=body,
        to=[delivery.target],
        # In a Celery task that logs and retries each failure itself: sent now, not queued (ops.mail).
        connection=mail.sending_connection(),
    )


def webhook_payload(notification: Notification) -> bytes:
    """The JSON a customer's endpoint receives; `type` is the event (order.fulfilled, alert.expiry, ...)."""
    event = {
        "id": f"ntf_{notification.pk}",
        "type": notification.event,
        "created": notification.created_at.isoformat(),
        "data": {
            "subject": notification.subject,
            "message": notification.body,
            "link": absolute(notification.link),
            **notification.data,
        },
    }
    return json.dumps(event, separators=(",", ":"), sort_keys=True).encode()


def _post_webhook(delivery: Delivery) -> tuple[int | None, str, str, bool]:
    endpoint = delivery.endpoint
    if endpoint is None or not endpoint.enabled:
        return None, "", "The endpoint was deleted or disabled.", False
    address, refusal = _webhook_address(endpoint.url)
    if refusal:
        return None, "", refusal, False
    body = webhook_payload(delivery.notification)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"{current_brand().site_name or 'Notifications'} webhooks",
        "X-Event-Type": delivery.notification.event,
        "X-Delivery-Id": str(delivery.pk),
        signing.HEADER: signing.sign(secret=endpoint.secret, body=body),
    }
    try:
        status, text = _post_to_address(endpoint.url, address, body=body, headers=headers)
    except urllib3.exceptions.HTTPError as exc:
        return None, "", f"{type(exc).__name__}: {exc}"[:500], True
    excerpt = text[:EXCERPT]
    if 200 <= status < 300:
        return status, excerpt, "", False
    return status, excerpt, f"HTTP {status}", True


def webhook_url_refusal(url: str, *, resolve: bool = False) -> str:
    """Why we will not post to this URL ("" when we will): https only, and never our own network.

    NOTIFY_WEBHOOK_ALLOW_PRIVATE lifts both for development and tests (a receiver on this machine).
    """
    if not resolve:
        return _url_refusal(url)
    return _webhook_address(url)[1]


def _url_refusal(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Use an http(s) URL."
    if parts.scheme != "https" and not settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE:
        return "Use an https URL."
    return ""


def _webhook_address(url: str) -> tuple[str, str]:
    """The one address a delivery connects to, checked once: (address, "") or ("", why not).

    The post goes to this very address (`_post_to_address`), never to a second lookup of the name, so a name
    that answers a public address to the check and a private one to the connection (DNS rebinding) gets nowhere.
    """
    if refusal := _url_refusal(url):
        return "", refusal
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        return "", f"{parts.hostname} does not resolve."
    addresses = [info[4][0] for info in infos]
    if not settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE and any(
        not ipaddress.ip_address(address.split("%")[0]).is_global for address in addresses
    ):
        return "", f"{parts.hostname} is a private address."
    return addresses[0], ""


def _post_to_address(url: str, address: str, *, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST to `url` through a connection to `address`; TLS still checks the certificate against the URL's name."""
    parts = urlsplit(url)
    timeout = urllib3.Timeout(connect=WEBHOOK_TIMEOUT_SECONDS, read=WEBHOOK_TIMEOUT_SECONDS)
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            parts.port or 443,
            server_hostname=parts.hostname,
            assert_hostname=parts.hostname,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            timeout=timeout,
            retries=False,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, parts.port or 80, timeout=timeout, retries=False)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    with pool:
        response = pool.urlopen(
            "POST", path, body=body, headers={**headers, "Host": parts.netloc}, redirect=False, preload_content=True
        )
    return response.status, response.data[: EXCERPT * 4].decode("utf-8", errors="replace")


# Webhook endpoints ---------------------------------------------------------------------------------


def webhook_endpoint_create(*, user: User, url: str) -> WebhookEndpoint:
    """A new endpoint with a new secret (shown to the user once); audited without the secret."""
    refusal = webhook_url_refusal(url)
    if refusal:
        raise ValueError(refusal)
    endpoint = WebhookEndpoint.objects.create(user=user, url=url, secret=signing.new_secret())
    audit.record(
        action="notifications.webhook.create", actor=user, target=endpoint, customer=user.customer, data={"url": url}
    )
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: User) -> None:
    audit.record(
        action="notifications.webhook.delete",
        actor=actor,
        target=endpoint,
        customer=endpoint.user.customer,
        data={"url": endpoint.url},
    )
    endpoint.delete()


def deliveries_for_staff(*, channel: str = "", status: str = "") -> QuerySet[Delivery]:
    deliveries = Delivery.objects.select_related("notification__user", "notification__customer")
    if channel:
        deliveries = deliveries.filter(channel=channel)
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries.prefetch_related("attempt_log").order_by("-created_at", "-pk")


def webhook_deliveries_for(*, user: User) -> QuerySet[Delivery]:
    return (
        Delivery.objects.filter(notification__user=user, channel=Channel.WEBHOOK)
        .select_related("notification")
        .prefetch_related("attempt_log")
        .order_by("-created_at", "-pk")
    )


# Telegram ------------------------------------------------------------------------------------------


def telegram_client() -> TelegramClient:
    return TelegramClient(token=settings.TELEGRAM_BOT_TOKEN, api_base=settings.TELEGRAM_API_BASE)


def telegram_available() -> bool:
    return bool(settings.TELEGRAM_BOT_TOKEN)


def telegram_bot_username() -> str:
    """TELEGRAM_BOT_USERNAME, or what getMe says (remembered for a day)."""
    if settings.TELEGRAM_BOT_USERNAME:
        return settings.TELEGRAM_BOT_USERNAME
    username = cache.get(BOT_USERNAME_CACHE_KEY)
    if not username:
        username = telegram_client().get_me()
        cache.set(BOT_USERNAME_CACHE_KEY, username, 24 * 3600)
    return username


def telegram_link_start(*, user: User) -> str:
    """A new one-time code for this login; returns the bot's deep link that carries it."""
    code = secrets.token_urlsafe(24)  # letters, digits, - and _: what a deep link's start parameter allows
    TelegramLink.objects.update_or_create(user=user, defaults={"code": code, "code_created_at": timezone.now()})
    return telegram_deep_link(code)


def telegram_deep_link(code: str) -> str:
    return f"https://t.me/{telegram_bot_username()}?start={code}"


def telegram_unlink(*, user: User) -> None:
    TelegramLink.objects.filter(user=user).update(chat_id="", chat_name="", linked_at=None, code=None)
    audit.record(action="notifications.telegram.unlink", actor=user, target=user, customer=user.customer)


def telegram_updates_poll() -> int:
    """Read the bot's new messages (getUpdates) and handle each Start; returns how many updates were read.

    The offset is kept in the database and moves past each update once handled, which confirms it to Telegram.
    """
    client = telegram_client()
    state = TelegramPollState.objects.order_by("pk").first() or TelegramPollState.objects.create()
    updates = client.get_updates(offset=state.next_offset)
    for update in updates:
        if update.start is not None:
            reply = telegram_start_handle(start=update.start)
            try:
                client.send_message(chat_id=update.start.chat_id, text=reply)
            except TelegramError as exc:
                logger.warning("telegram: could not answer chat %s: %s", update.start.chat_id, exc)
        state.next_offset = update.update_id + 1
        state.polled_at = timezone.now()
        state.save(update_fields=["next_offset", "polled_at"])
    return len(updates)


@transaction.atomic
def telegram_start_handle(*, start: StartCommand, now: dt.datetime | None = None) -> str:
    """Link the chat to the login whose fresh one-time code it carries; returns the bot's answer."""
    now = now or timezone.now()
    name = current_brand().site_name or "our portal"
    link = (
        TelegramLink.objects.select_for_update(of=("self",)).select_related("user").filter(code=start.payload).first()
        if start.payload
        else None
    )
    if link is None or link.code_created_at is None or now - link.code_created_at > LINK_CODE_TTL:
        return f"This link is not valid (any more). Open a new one from the notification settings of {name}."
    link.chat_id, link.chat_name, link.linked_at, link.code = start.chat_id, start.chat_name, now, None
    link.save()
    audit.record(
        action="notifications.telegram.link",
        actor=link.user,
        target=link.user,
        customer=link.user.customer,
        data={"chat": start.chat_name},
    )
    return f"Linked: {name} will send the notifications you chose for {link.user.get_username()} to this chat."
