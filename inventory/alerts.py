"""Alerts: find what deserves a warning, record each warning once, and email it to the customer and/or staff.

Five rules, each a small `_<kind>_findings()` function: an expiry inside a horizon, data usage past a
threshold, data that runs out within a horizon at the rate of its usage history, a phone connection
offline, and a provider balance below its account's threshold. A finding
becomes an `Alert` row only if no row has the same kind, subject, threshold and cycle yet; the database's
unique constraint decides, so two workers running at once never both create (and so never both send) one.
The cycle is what makes a repeat a new warning: a renewal moves the expiry, a top-up changes the limit.

Delivery is separate from detection: an email that fails is kept on the Alert (`delivery_error`) and sent
again by `alerts_deliver_pending()` on a later run, without stopping the other alerts. A customer with
portal logins is told through `notifications` (each login's feed and chosen channels, once per alert);
the alert email then goes to staff alone. A customer without logins is emailed at the contact address.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import Customer, Role, User
from branding.brand import current as current_brand
from inventory import usage
from inventory.models import SENDING_PREFIX, Alert, Resource, ResourceStatus, UsageSample
from notifications import services as notifications
from notifications.models import Channel, Kind, Notification
from ops import audit, mail
from ops.units import format_gb as gb
from providers import crypto, registry
from providers.http import errors
from providers.models import ProviderAccount

logger = logging.getLogger(__name__)

# Statuses of something a customer can still use; vanished and expired resources get no warnings.
LIVE_STATUSES = (ResourceStatus.ACTIVE, ResourceStatus.PROCESSING, ResourceStatus.OFFLINE)
# Phones and provider balances are ours to fix: customers are never told about them.
STAFF_ONLY_KINDS = frozenset(
    {
        Alert.Kind.OFFLINE,
        Alert.Kind.LOW_BALANCE,
        Alert.Kind.OUT_OF_STOCK,
        Alert.Kind.RUNWAY,
        Alert.Kind.MISALIGNED,
        Alert.Kind.MARGIN,
    }
)
# While one process sends an alert its `delivery_error` reads "Sending since <time>", which stops a
# concurrent run from sending it too; a claim older than this is taken to have died with its worker.
CLAIM_PREFIX = SENDING_PREFIX
STALE_AFTER = dt.timedelta(minutes=15)
# An alert that still cannot be delivered after this long is left alone: its news is stale by then.
RETRY_FOR = dt.timedelta(days=3)
NO_RECIPIENTS = "No one to send it to: set ALERT_STAFF_EMAILS or give an active owner an email address."


@dataclass(frozen=True)
class Finding:
    """Something that deserves a warning; becomes an Alert unless one with the same key exists."""

    kind: str
    subject: str
    threshold: str
    cycle: str
    message: str
    resource: Resource | None = None
    account: ProviderAccount | None = None
    customer: Customer | None = None


def alerts_check(*, now: dt.datetime | None = None) -> list[Alert]:
    """Record every new warning once and try to deliver it; returns the alerts created by this run."""
    now = now or timezone.now()
    findings: Iterable[Finding] = [
        *_expiry_findings(now=now),
        *_usage_findings(),
        *_projection_findings(now=now),
        *_offline_findings(now=now),
        *_low_balance_findings(now=now),
    ]
    created = [alert for alert in map(_record, findings) if alert is not None]
    for alert in created:
        _deliver(alert)
    return created


def alerts_deliver_pending(*, now: dt.datetime | None = None) -> list[Alert]:
    """Send again the alerts whose delivery failed (or whose sender died); returns those delivered now."""
    now = now or timezone.now()
    pending = Alert.objects.filter(delivered_at__isnull=True, created_at__gte=now - RETRY_FOR).select_related(
        "customer", "resource", "account"
    )
    return [alert for alert in pending.order_by("created_at", "pk") if _is_due(alert, now=now) and _deliver(alert)]


@transaction.atomic
def alert_acknowledge(*, alert: Alert, actor: User) -> bool:
    """Mark an alert as seen by staff (someone is on it); False when it already was. Audited."""
    updated = Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now(), acknowledged_by=actor
    )
    if not updated:
        return False
    alert.refresh_from_db(fields=["acknowledged_at", "acknowledged_by"])
    audit.record(
        action="alert.acknowledge",
        actor=actor,
        target=alert,
        customer=alert.customer,
        data={"kind": alert.kind, "subject": alert.subject, "threshold": alert.threshold},
    )
    return True


def alert_staff_out_of_stock(
    *, account: ProviderAccount, subject: str, message: str, now: dt.datetime | None = None
) -> Alert | None:
    """Tell staff that something on sale cannot be supplied (no capacity upstream), once a day per subject.

    Called by an integration when it refuses a sale, often in a customer's request: the alert is recorded here and
    sent by a worker once this transaction commits (a slow or failing mail server never holds up the page).
    Returns the new alert, or None when today's is already recorded.
    """
    from inventory.alert_tasks import deliver_alert

    now = now or timezone.now()
    finding = Finding(
        kind=Alert.Kind.OUT_OF_STOCK,
        subject=subject[:60],
        threshold="none left",
        cycle=_utc_date(now),
        message=message,
        account=account,
    )
    alert = _record(finding)
    if alert is not None:
        transaction.on_commit(lambda pk=alert.pk: deliver_alert.delay(pk))
    return alert


def alert_deliver(*, alert_id: int) -> bool:
    """Send one recorded alert now unless it was sent already (a retry of the task sends nothing twice)."""
    alert = Alert.objects.filter(pk=alert_id, delivered_at__isnull=True).select_related("resource", "customer").first()
    return _deliver(alert) if alert is not None else False


def alert_staff_drift(*, account: ProviderAccount, opened: int, run_id: int) -> Alert | None:
    """Tell staff once per sync run that it found changes made in the provider's console (the drift queue).

    Staff only: the customer hears of a change when staff accept it (`inventory.drift`).
    """
    changes = "change" if opened == 1 else "changes"
    return alert_staff(
        kind=Alert.Kind.DRIFT,
        subject=f"account:{account.pk}",
        threshold="new",
        cycle=f"run:{run_id}",
        message=f"{opened} {changes} made outside the dashboard found on {account.name}: accept or restore "
        f"each in the drift queue ({settings.SITE_URL.rstrip('/')}{reverse('staff:drift-list')}).",
        account=account,
    )


def alert_staff(
    *,
    kind: str,
    subject: str,
    threshold: str,
    cycle: str,
    message: str,
    account: ProviderAccount | None = None,
    resource: Resource | None = None,
) -> Alert | None:
    """Warn staff once per subject, threshold and cycle, by the same record-then-deliver path.

    For rules that live above this app (billing's foresight: runway, expiry alignment, margin at risk);
    None when this warning was already recorded.
    """
    alert = _record(
        Finding(
            kind=kind,
            subject=subject[:60],
            threshold=threshold[:30],
            cycle=cycle[:100],
            message=message,
            account=account,
            resource=resource,
        )
    )
    if alert is not None:
        _deliver(alert)
    return alert


def alert_customer(*, resource: Resource, kind: str, threshold: str, cycle: str, message: str) -> Alert | None:
    """Warn a resource's customer once per threshold and cycle, by the same record-then-deliver path.

    For warnings found outside the rules above (billing's automatic orders: no money, cap reached);
    None when this warning was already recorded.
    """
    alert = _record(
        Finding(
            kind=kind,
            subject=f"resource:{resource.pk}",
            threshold=threshold[:30],
            cycle=cycle[:100],
            message=message,
            resource=resource,
            customer=resource.customer,
        )
    )
    if alert is not None:
        _deliver(alert)
    return alert


def staff_emails() -> list[str]:
    """ALERT_STAFF_EMAILS, or the addresses of the active owners when that is empty."""
    if settings.ALERT_STAFF_EMAILS:
        return list(dict.fromkeys(settings.ALERT_STAFF_EMAILS))
    owners = User.objects.filter(role=Role.OWNER, is_active=True).exclude(email="").order_by("pk")
    return list(dict.fromkeys(owners.values_list("email", flat=True)))


# The rules ----------------------------------------------------------------------------------------


def _expiry_findings(*, now: dt.datetime) -> Iterator[Finding]:
    """Live resources expiring within a horizon, at the nearest horizon only; the expiry time is the cycle."""
    horizons = sorted(settings.ALERT_EXPIRY_HORIZONS_DAYS)
    if not horizons:
        return
    resources = Resource.objects.filter(
        status__in=LIVE_STATUSES, expires_at__gt=now, expires_at__lte=now + dt.timedelta(days=horizons[-1])
    ).select_related("customer", "account")
    for resource in resources:
        left = resource.expires_at - now
        days = next(days for days in horizons if left <= dt.timedelta(days=days))
        yield Finding(
            kind=Alert.Kind.EXPIRY,
            subject=f"resource:{resource.pk}",
            threshold=f"{days}d",
            cycle=resource.expires_at.isoformat(),
            message=f"{resource} expires on {_when(resource.expires_at)}, {_in_words(left)}.",
            resource=resource,
            customer=resource.customer,
        )


def _usage_findings() -> Iterator[Finding]:
    """Live resources past a share of their data limit, at the highest share reached; the limit is the cycle."""
    thresholds = sorted(settings.ALERT_USAGE_THRESHOLDS_PERCENT)
    if not thresholds:
        return
    resources = (
        Resource.objects.filter(status__in=LIVE_STATUSES, data_limit_bytes__gt=0, data_used_bytes__isnull=False)
        .alias(used_hundredfold=F("data_used_bytes") * 100)
        .filter(used_hundredfold__gte=F("data_limit_bytes") * thresholds[0])
        .select_related("customer", "account")
    )
    for resource in resources:
        used, limit = resource.data_used_bytes, resource.data_limit_bytes
        percent = max(percent for percent in thresholds if used * 100 >= percent * limit)
        yield Finding(
            kind=Alert.Kind.USAGE,
            subject=f"resource:{resource.pk}",
            threshold=f"{percent}%",
            cycle=str(limit),
            message=(
                f"{resource} has used {gb(used)} of its {gb(limit)} data limit "
                f"({used * 100 // limit}%, warning at {percent}%)."
            ),
            resource=resource,
            customer=resource.customer,
        )


def _projection_findings(*, now: dt.datetime) -> Iterator[Finding]:
    """Live resources whose data, at the rate of the usage history, runs out within an expiry horizon.

    The same horizons as expiry (the nearest one reached), from `inventory.usage`'s projection, which auto
    top-up also reads; the limit is the cycle, so a top-up starts a new one.
    """
    horizons = sorted(settings.ALERT_EXPIRY_HORIZONS_DAYS)
    if not horizons:
        return
    since = now - usage.RATE_WINDOW
    resources = (
        Resource.objects.filter(
            status__in=LIVE_STATUSES,
            data_limit_bytes__gt=0,
            data_used_bytes__lt=F("data_limit_bytes"),
            pk__in=UsageSample.objects.filter(at__gte=since).values("resource_id"),
        )
        .select_related("customer", "account")
        .order_by("pk")
    )
    for chunk in _chunks(resources.iterator(chunk_size=1000), 1000):
        by_pk = {resource.pk: resource for resource in chunk}
        for resource_pk, projection in usage.projections(chunk, now=now).items():
            runs_out_at = projection.runs_out_at
            if runs_out_at is None or runs_out_at - now > dt.timedelta(days=horizons[-1]):
                continue
            resource = by_pk[resource_pk]
            left = runs_out_at - now
            days = next(days for days in horizons if left <= dt.timedelta(days=days))
            used, limit = resource.data_used_bytes, resource.data_limit_bytes
            subject, cycle = f"resource:{resource.pk}", str(limit)
            # A slower rate can push the date back past a horizon: never warn again at a farther one.
            nearer = [f"runs out {nearer}d" for nearer in horizons if nearer <= days]
            if Alert.objects.filter(kind=Alert.Kind.USAGE, subject=subject, cycle=cycle, threshold__in=nearer).exists():
                continue
            yield Finding(
                kind=Alert.Kind.USAGE,
                subject=subject,
                threshold=f"runs out {days}d",
                cycle=cycle,
                message=(
                    f"{resource} has used {gb(used)} of its {gb(limit)} data limit; at this rate "
                    f"({gb(round(projection.bytes_per_day))} a day) the data runs out on {_when(runs_out_at)}, "
                    f"{_in_words(left)}."
                ),
                resource=resource,
                customer=resource.customer,
            )


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _offline_findings(*, now: dt.datetime) -> Iterator[Finding]:
    """Resources the last sync saw offline (kinds whose integration asks for it); staff only, one alert per outage.

    The cycle is when it went offline, as the integration reads it from the mirror (`offline_since`):
    that time changes only when the status changes, so one outage keeps one cycle however many runs
    see it, and the next outage gets a new one. When the mirror does not hold that time the UTC date is
    the cycle instead: at worst one reminder a day for an outage that lasts, never one per run.
    """
    resources = Resource.objects.filter(
        kind__in=registry.offline_alert_kinds(), status=ResourceStatus.OFFLINE
    ).select_related("account")
    for resource in resources:
        since = resource.integration.offline_since(resource)
        if since is not None:
            cycle = f"since {since.isoformat()}"
            message = f"{resource} on {resource.account.name} has been offline since {_when(since)}."
        else:
            cycle = f"day {_utc_date(now)}"
            seen = resource.last_seen_at or now
            message = f"{resource} on {resource.account.name} was offline at the last sync ({_when(seen)})."
        yield Finding(
            kind=Alert.Kind.OFFLINE,
            subject=f"resource:{resource.pk}",
            threshold="offline",
            cycle=cycle,
            message=message,
            resource=resource,
        )


def _low_balance_findings(*, now: dt.datetime) -> Iterator[Finding]:
    """Enabled accounts whose balance is below their threshold; at most one alert a day each.

    Only integrations with `has_balance` report one. A provider that fails to answer is logged and skipped: the other
    accounts and the other rules still run.
    """
    accounts = ProviderAccount.objects.filter(
        kind__in=[i.kind for i in registry.all_integrations() if i.has_balance],
        enabled=True,
        low_balance_threshold_cents__gt=0,
    ).order_by("pk")
    for account in accounts:
        try:
            integration = registry.for_account(account)
            balance_cents = integration.balance_cents(integration.client(account))
        except (errors.ProviderError, crypto.SecretUnreadable) as exc:
            logger.warning("alerts: could not read the balance of %r: %s", account, exc)
            continue
        threshold = account.low_balance_threshold_cents
        if balance_cents >= threshold:
            continue
        yield Finding(
            kind=Alert.Kind.LOW_BALANCE,
            subject=f"account:{account.pk}",
            threshold=_amount(threshold),
            cycle=_utc_date(now),
            message=(
                f"The balance of {account.name} ({account.get_kind_display()}) is {_amount(balance_cents)}, "
                f"below the warning threshold of {_amount(threshold)}."
            ),
            account=account,
        )


# Recording and delivery ---------------------------------------------------------------------------


def _record(finding: Finding) -> Alert | None:
    """The new Alert for this finding, or None when another run (or another worker) already recorded it."""
    with transaction.atomic():
        # get_or_create falls back to reading the row when a concurrent insert wins the unique constraint.
        alert, created = Alert.objects.get_or_create(
            kind=finding.kind,
            subject=finding.subject,
            threshold=finding.threshold,
            cycle=finding.cycle,
            defaults={
                "message": finding.message,
                "resource": finding.resource,
                "account": finding.account,
                "customer": None if finding.kind in STAFF_ONLY_KINDS else finding.customer,
            },
        )
    return alert if created else None


def _is_due(alert: Alert, *, now: dt.datetime) -> bool:
    if alert.delivery_error.startswith(CLAIM_PREFIX):
        claimed_at = parse_datetime(alert.delivery_error.removeprefix(CLAIM_PREFIX))
        return claimed_at is None or now - claimed_at > STALE_AFTER
    if not alert.delivery_error:  # never attempted: its creator is still sending, or died before it could
        return now - alert.created_at > STALE_AFTER
    return True


def _recipients(alert: Alert, *, customer_told: bool) -> tuple[list[str], list[str]]:
    """(to, bcc): an active customer is addressed directly with staff in copy; otherwise staff alone.

    Staff are blind-copied so a customer never sees their addresses. A customer told through their logins'
    notifications is not emailed here as well.
    """
    staff = staff_emails()
    customer = alert.customer
    if customer_told or not _addresses_customer(alert) or not customer.contact_email:
        return staff, []
    return [customer.contact_email], [email for email in staff if email != customer.contact_email]


def _addresses_customer(alert: Alert) -> bool:
    return alert.kind not in STAFF_ONLY_KINDS and alert.customer is not None and alert.customer.is_active


def _tell(alert: Alert) -> list[str]:
    """Tell the customer's logins (their feed and chosen channels) and the staff chat; the logins told.

    Keyed by the alert, so telling it again (a delivery retried after a crash) tells no one twice.
    """
    if alert.kind not in Kind.values:
        return []
    customer = alert.customer if _addresses_customer(alert) else None
    context = _context(alert)
    advice = render_to_string(f"email/alert_{alert.kind}_advice.txt", context) if customer is not None else ""
    told = notifications.notify(
        customer=customer,
        event=f"alert.{alert.kind}",
        subject=_subject(alert, context, prefixed=False),
        body=f"{alert.message}\n\n{advice}".strip(),
        link=reverse("portal:proxy-detail", args=[alert.resource_id]) if customer and alert.resource_id else "",
        key=f"alert:{alert.pk}",
        data={"alert": alert.pk, "kind": alert.kind, "threshold": alert.threshold, "resource": alert.resource_id},
        staff_channels=(Channel.TELEGRAM,),
    )
    told_logins = [notification.user.get_username() for notification in told]
    if customer is not None and not told_logins:  # told on an earlier try of this delivery
        told_logins = list(
            Notification.objects.filter(key=f"alert:{alert.pk}", user__isnull=False).values_list(
                "user__username", flat=True
            )
        )
    return told_logins


def _deliver(alert: Alert) -> bool:
    """Send one alert as one message (so it is all sent or all failed); True when it went out.

    Any failure of the email backend is recorded on the alert for a later run, never raised.
    """
    claimed = Alert.objects.filter(pk=alert.pk, delivered_at__isnull=True, delivery_error=alert.delivery_error).update(
        delivery_error=f"{CLAIM_PREFIX}{timezone.now().isoformat()}"
    )
    if not claimed:
        return False  # delivered or being delivered by another run
    has_logins = _addresses_customer(alert) and notifications.customer_logins(alert.customer).exists()
    to, bcc = _recipients(alert, customer_told=has_logins)
    alert.recipients = to + bcc
    alert.delivered_at = None
    if not alert.recipients and not has_logins:
        alert.delivery_error = NO_RECIPIENTS
    else:
        try:
            if to:
                _email(alert, to=to, bcc=bcc).send()
        except Exception as exc:
            logger.exception("alerts: could not send alert %s", alert.pk)
            alert.delivery_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            # The email went (or there was none to send): now the customer's logins and the staff chat.
            alert.recipients += [f"{login} (portal login)" for login in _tell(alert)]
            alert.delivered_at = timezone.now()
            alert.delivery_error = ""
    alert.save(update_fields=["recipients", "delivered_at", "delivery_error"])
    return alert.delivered_at is not None


def _context(alert: Alert) -> dict:
    return {
        "alert": alert,
        "message": alert.message,
        "resource": alert.resource,
        "account": alert.account,
        "customer": alert.customer,
        # Why it cannot be renewed (e.g. sold for a fixed period: buy a replacement); "" when it can.
        "not_renewable": alert.resource.integration.renewable(alert.resource, timezone.now()) if alert.resource else "",
    }


def _subject(alert: Alert, context: dict, *, prefixed: bool = True) -> str:
    subject = " ".join(render_to_string(f"email/alert_{alert.kind}_subject.txt", context).split())
    prefix = current_brand().subject_prefix.strip()
    return subject.removeprefix(prefix).strip() if prefix and not prefixed else subject


def _email(alert: Alert, *, to: list[str], bcc: list[str]) -> EmailMessage:
    context = _context(alert)
    subject = _subject(alert, context)
    body = render_to_string(f"email/alert_{alert.kind}_body.txt", context)
    # Already in a Celery task that records and retries failures itself: sent now, not queued (ops.mail).
    return EmailMessage(subject=subject, body=body, to=to, bcc=bcc, connection=mail.sending_connection())


# Wording ------------------------------------------------------------------------------------------


def _when(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%a %d %b %Y at %H:%M %Z")


def _in_words(left: dt.timedelta) -> str:
    hours = int(left.total_seconds() // 3600)
    if hours < 1:
        return "in less than an hour"
    if hours < 48:
        return f"in {hours} hour{'s' if hours != 1 else ''}"
    return f"in {hours // 24} days"


def _utc_date(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).date().isoformat()


def _amount(cents: int) -> str:
    return f"{cents // 100:,}.{cents % 100:02d}"
