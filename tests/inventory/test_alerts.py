"""Alerts: expiry, usage, offline and low balance, each recorded once per cycle and emailed to the right people."""

from __future__ import annotations

import datetime as dt
import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from accounts.models import Customer
from integrations.iproxy.kinds import IPROXY_ACCESS, IPROXY_CONNECTION
from integrations.unknownproxies.kinds import ISP_TOKEN
from inventory import alert_tasks
from inventory.alerts import alerts_check, alerts_deliver_pending
from inventory.models import Alert, ResourceStatus
from tests.factories import RESI_UPSTREAM, ProviderAccountFactory, ResourceFactory, UserFactory
from tests.test_settings import manage

GB = 10**9
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


class FailingBackend(BaseEmailBackend):
    """An SMTP server that refuses everything."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPException("421 service not available")


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def midday(now):
    """Noon UTC today: "once a day" tests step ten minutes on without crossing a UTC midnight."""
    return now.astimezone(dt.UTC).replace(hour=12, minute=0, second=0)


@pytest.fixture(autouse=True)
def staff_from_owners(settings):
    settings.ALERT_STAFF_EMAILS = []
    settings.ALERT_EXPIRY_HORIZONS_DAYS = [1, 3, 7]
    settings.ALERT_USAGE_THRESHOLDS_PERCENT = [80, 95]


def quiet(**fields):
    """A resource that deserves no warning unless the test says so (no expiry, little data used)."""
    return ResourceFactory(**{"expires_at": None, "data_used_bytes": 1 * GB, "data_limit_bytes": 100 * GB, **fields})


def connection(**fields):
    account = ProviderAccountFactory(kind="iproxy")
    defaults = {"kind": IPROXY_CONNECTION, "status": ResourceStatus.OFFLINE, "upstream": {}}
    return quiet(account=account, data_used_bytes=None, data_limit_bytes=None, **{**defaults, **fields})


# Expiry ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "threshold"),
    [
        (dt.timedelta(hours=12), "1d"),
        (dt.timedelta(days=1), "1d"),
        (dt.timedelta(days=2), "3d"),
        (dt.timedelta(days=5), "7d"),
    ],
)
def test_it_warns_of_an_expiry_at_the_nearest_horizon_only(owner, now, mailoutbox, left, threshold):
    resource = quiet(expires_at=now + left)

    alerts = alerts_check(now=now)

    assert [(a.kind, a.threshold, a.resource) for a in alerts] == [("expiry", threshold, resource)]
    assert len(mailoutbox) == 1
    assert Alert.objects.count() == 1


def test_it_says_what_expires_and_when_in_plain_words(owner, now, mailoutbox):
    quiet(label="shop-bot-7", expires_at=now + dt.timedelta(hours=12))

    (alert,) = alerts_check(now=now)

    assert alert.message.startswith("Residential token shop-bot-7 expires on ")
    assert alert.message.endswith(", in 12 hours.")
    assert alert.cycle == (now + dt.timedelta(hours=12)).isoformat()
    assert mailoutbox[0].subject == "Expires soon: Residential token shop-bot-7"
    assert alert.message in mailoutbox[0].body


def test_an_expiry_warning_offers_a_replacement_for_what_cannot_be_renewed(owner, now, mailoutbox):
    quiet(kind=ISP_TOKEN, label="US TICK x2", expires_at=now + dt.timedelta(days=2), upstream={})

    alerts_check(now=now)

    assert "ISP proxies cannot be extended: buy a replacement before these end." in mailoutbox[0].body
    assert "Renew it before then" not in mailoutbox[0].body


def test_it_does_not_warn_beyond_the_widest_horizon(owner, now, mailoutbox):
    quiet(expires_at=now + dt.timedelta(days=8))

    assert alerts_check(now=now) == []
    assert mailoutbox == []


@pytest.mark.parametrize("status", [ResourceStatus.VANISHED, ResourceStatus.EXPIRED])
def test_it_does_not_warn_about_what_is_gone_or_expired(owner, now, mailoutbox, status):
    quiet(status=status, expires_at=now + dt.timedelta(hours=12), data_used_bytes=99 * GB)

    assert alerts_check(now=now) == []
    assert mailoutbox == []


def test_it_warns_once_per_horizon_and_again_at_the_next_one(owner, now, mailoutbox):
    resource = quiet(expires_at=now + dt.timedelta(days=5))

    assert [a.threshold for a in alerts_check(now=now)] == ["7d"]
    assert alerts_check(now=now + dt.timedelta(hours=6)) == []
    assert [a.threshold for a in alerts_check(now=now + dt.timedelta(days=3))] == ["3d"]
    assert [a.threshold for a in alerts_check(now=now + dt.timedelta(days=4, hours=12))] == ["1d"]
    assert alerts_check(now=now + dt.timedelta(days=4, hours=20)) == []

    assert len(mailoutbox) == 3
    assert set(Alert.objects.values_list("cycle", flat=True)) == {resource.expires_at.isoformat()}


def test_it_warns_again_after_a_renewal(owner, now, mailoutbox):
    resource = quiet(expires_at=now + dt.timedelta(hours=12))
    assert len(alerts_check(now=now)) == 1

    resource.expires_at += dt.timedelta(days=30)
    resource.save()
    assert alerts_check(now=now) == []

    later = now + dt.timedelta(days=30)
    (alert,) = alerts_check(now=later)
    assert (alert.threshold, alert.cycle) == ("1d", resource.expires_at.isoformat())
    assert len(mailoutbox) == 2


def test_it_uses_the_configured_horizons(owner, now, settings):
    settings.ALERT_EXPIRY_HORIZONS_DAYS = [14]
    quiet(expires_at=now + dt.timedelta(days=10))

    assert [a.threshold for a in alerts_check(now=now)] == ["14d"]


# Usage -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("used_gb", "threshold"), [(79, None), (80, "80%"), (94, "80%"), (96, "95%"), (100, "95%"), (130, "95%")]
)
def test_it_warns_at_the_highest_usage_threshold_reached(owner, now, mailoutbox, used_gb, threshold):
    quiet(data_used_bytes=used_gb * GB, data_limit_bytes=100 * GB)

    assert [a.threshold for a in alerts_check(now=now)] == ([threshold] if threshold else [])
    assert Alert.objects.count() == (1 if threshold else 0)


def test_it_says_how_much_data_is_used(owner, now):
    quiet(label="scraper", data_used_bytes=96 * GB, data_limit_bytes=100 * GB)

    (alert,) = alerts_check(now=now)

    assert alert.message == (
        "Residential token scraper has used 96.00 GB of its 100.00 GB data limit (96%, warning at 95%)."
    )
    assert alert.cycle == str(100 * GB)


def test_it_warns_of_usage_once_and_again_after_a_top_up(owner, now, mailoutbox):
    resource = quiet(data_used_bytes=85 * GB, data_limit_bytes=100 * GB)
    assert [a.threshold for a in alerts_check(now=now)] == ["80%"]
    assert alerts_check(now=now) == []

    resource.data_used_bytes = 96 * GB
    resource.save()
    assert [a.threshold for a in alerts_check(now=now)] == ["95%"]

    resource.data_limit_bytes = 200 * GB  # a top-up: 48% of the new limit
    resource.save()
    assert alerts_check(now=now) == []

    resource.data_used_bytes = 170 * GB
    resource.save()
    (alert,) = alerts_check(now=now)
    assert (alert.threshold, alert.cycle) == ("80%", str(200 * GB))
    assert len(mailoutbox) == 3


def test_it_ignores_resources_without_a_data_limit(owner, now):
    quiet(data_used_bytes=500 * GB, data_limit_bytes=None)
    quiet(data_used_bytes=None, data_limit_bytes=100 * GB)

    assert alerts_check(now=now) == []


# Recipients --------------------------------------------------------------------------------------


def test_it_emails_the_customer_with_staff_in_blind_copy(owner, customer_a, now, mailoutbox):
    quiet(customer=customer_a, expires_at=now + dt.timedelta(hours=12))

    (alert,) = alerts_check(now=now)

    (email,) = mailoutbox
    assert email.to == [customer_a.contact_email]
    assert email.bcc == ["owner@example.com"]
    assert alert.recipients == [customer_a.contact_email, "owner@example.com"]
    assert alert.customer == customer_a
    assert alert.delivered_at is not None
    assert alert.delivery_error == ""


def test_it_emails_only_staff_when_the_customer_is_suspended(owner, customer_a, now, mailoutbox):
    customer_a.status = Customer.Status.SUSPENDED
    customer_a.save()
    quiet(customer=customer_a, data_used_bytes=90 * GB)

    (alert,) = alerts_check(now=now)

    assert mailoutbox[0].to == ["owner@example.com"]
    assert mailoutbox[0].bcc == []
    assert alert.recipients == ["owner@example.com"]


def test_it_emails_only_staff_about_unassigned_resources(owner, now, mailoutbox):
    quiet(expires_at=now + dt.timedelta(hours=2))

    (alert,) = alerts_check(now=now)

    assert alert.recipients == ["owner@example.com"]
    assert alert.customer is None
    assert mailoutbox[0].to == ["owner@example.com"]


def test_it_emails_the_configured_staff_instead_of_the_owners(owner, now, mailoutbox, settings):
    settings.ALERT_STAFF_EMAILS = ["ops@reseller.example", "night@reseller.example"]
    quiet(expires_at=now + dt.timedelta(hours=2))

    alerts_check(now=now)

    assert mailoutbox[0].to == ["ops@reseller.example", "night@reseller.example"]


def test_it_emails_every_active_owner_but_not_support_or_inactive_owners(owner, support, now, mailoutbox):
    UserFactory(username="owner2", role="owner")
    UserFactory(username="gone", role="owner", is_active=False)
    quiet(expires_at=now + dt.timedelta(hours=2))

    alerts_check(now=now)

    assert mailoutbox[0].to == ["owner@example.com", "owner2@example.com"]


def test_it_keeps_the_alert_for_later_when_there_is_no_one_to_tell(db, now, mailoutbox):
    quiet(expires_at=now + dt.timedelta(hours=2))

    (alert,) = alerts_check(now=now)

    assert mailoutbox == []
    assert alert.delivered_at is None
    assert "ALERT_STAFF_EMAILS" in alert.delivery_error

    UserFactory(username="owner", role="owner")
    assert alerts_deliver_pending() == [alert]
    assert len(mailoutbox) == 1


def test_it_never_puts_a_password_in_a_message(owner, customer_a, now, mailoutbox):
    quiet(customer=customer_a, expires_at=now + dt.timedelta(hours=2), data_used_bytes=99 * GB)

    alerts = alerts_check(now=now)

    assert len(alerts) == 2
    password = RESI_UPSTREAM["password"]
    assert all(password not in alert.message for alert in alerts)
    assert all(password not in email.body and password not in email.subject for email in mailoutbox)


# Offline connections -----------------------------------------------------------------------------


def test_it_warns_staff_once_per_outage(owner, customer_a, now, mailoutbox):
    went_down = (now - dt.timedelta(minutes=20)).isoformat()
    phone = connection(label="Pixel 7 NYC", customer=customer_a, upstream={"last_online_status_update": went_down})

    (alert,) = alerts_check(now=now)
    assert alert.kind == "offline"
    assert alert.customer is None
    assert alert.recipients == ["owner@example.com"]
    assert "iProxy connection Pixel 7 NYC" in alert.message
    assert "offline since" in alert.message
    assert alerts_check(now=now + dt.timedelta(hours=30)) == []  # the same outage, however long

    phone.status = ResourceStatus.ACTIVE
    phone.upstream = {"last_online_status_update": (now + dt.timedelta(hours=31)).isoformat()}
    phone.save()
    assert alerts_check(now=now + dt.timedelta(hours=32)) == []

    phone.status = ResourceStatus.OFFLINE
    phone.upstream = {"last_online_status_update": (now + dt.timedelta(hours=33)).isoformat()}
    phone.save()
    assert [a.kind for a in alerts_check(now=now + dt.timedelta(hours=34))] == ["offline"]

    assert [email.to for email in mailoutbox] == [["owner@example.com"]] * 2


def test_it_warns_of_an_outage_without_a_status_time_at_most_once_a_day(owner, midday, mailoutbox):
    now = midday
    phone = connection(last_synced_at=now)

    (alert,) = alerts_check(now=now)
    assert "was offline at the last sync" in alert.message
    assert alerts_check(now=now + dt.timedelta(minutes=10)) == []
    assert len(alerts_check(now=now + dt.timedelta(days=1))) == 1
    assert Alert.objects.filter(resource=phone).count() == 2


def test_it_does_not_warn_about_online_connections_or_offline_accesses(owner, now):
    connection(status=ResourceStatus.ACTIVE)
    connection(kind=IPROXY_ACCESS)

    assert alerts_check(now=now) == []


# Low provider balance ----------------------------------------------------------------------------


def test_it_warns_staff_of_a_low_provider_balance_once_a_day(owner, sandbox, midday, mailoutbox):
    now = midday
    account = ProviderAccountFactory(kind="iproxy", name="iProxy main", low_balance_threshold_cents=5000)
    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 1234})

    (alert,) = alerts_check(now=now)
    assert (alert.kind, alert.subject, alert.account) == ("low_balance", f"account:{account.pk}", account)
    assert alert.message == "The balance of iProxy main (iProxy.online) is 12.34, below the warning threshold of 50.00."
    assert alert.recipients == ["owner@example.com"]
    assert mailoutbox[0].subject == "Provider balance low: iProxy main"

    assert alerts_check(now=now + dt.timedelta(minutes=10)) == []
    assert len(alerts_check(now=now + dt.timedelta(days=1))) == 1
    assert len(sandbox.calls("GET", "/me")) == 3


def test_it_does_not_warn_when_the_balance_is_enough(owner, sandbox, now):
    ProviderAccountFactory(kind="iproxy", low_balance_threshold_cents=5000)
    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 5000})

    assert alerts_check(now=now) == []


def test_it_asks_only_enabled_iproxy_accounts_with_a_threshold(owner, sandbox, now):
    ProviderAccountFactory(kind="iproxy", low_balance_threshold_cents=0)
    ProviderAccountFactory(kind="iproxy", low_balance_threshold_cents=5000, enabled=False)
    ProviderAccountFactory(kind="shop", low_balance_threshold_cents=5000)
    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 0})

    assert alerts_check(now=now) == []
    assert sandbox.calls("GET", "/me") == []


def test_it_survives_a_provider_error_and_checks_the_rest(owner, sandbox, now, caplog):
    ProviderAccountFactory(kind="iproxy", name="bad key", secret="wrong-key", low_balance_threshold_cents=5000)
    good = ProviderAccountFactory(kind="iproxy", low_balance_threshold_cents=5000)
    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 100})
    quiet(expires_at=now + dt.timedelta(hours=2))

    alerts = alerts_check(now=now)

    assert sorted(a.kind for a in alerts) == ["expiry", "low_balance"]
    assert next(a for a in alerts if a.kind == "low_balance").account == good
    assert "could not read the balance" in caplog.text
    assert "wrong-key" not in caplog.text


# Delivery ----------------------------------------------------------------------------------------


def test_it_records_an_email_failure_and_retries_it_later(owner, now, mailoutbox, settings):
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    quiet(expires_at=now + dt.timedelta(hours=2))
    quiet(data_used_bytes=99 * GB)

    alerts = alerts_check(now=now)

    assert len(alerts) == 2  # the first failure did not stop the second alert
    for alert in Alert.objects.all():
        assert alert.delivered_at is None
        assert alert.delivery_error == "SMTPException: 421 service not available"
        assert alert.recipients == ["owner@example.com"]
    assert alerts_deliver_pending() == []  # still failing: kept for the next run

    settings.EMAIL_BACKEND = LOCMEM
    assert alerts_check(now=now) == []
    assert len(alerts_deliver_pending()) == 2
    assert len(mail.outbox) == 2
    assert not Alert.objects.filter(delivered_at__isnull=True).exists()
    assert set(Alert.objects.values_list("delivery_error", flat=True)) == {""}
    assert alerts_deliver_pending() == []
    assert len(mail.outbox) == 2


def test_it_leaves_an_alert_another_run_is_sending_alone_until_that_run_is_presumed_dead(owner, now, mailoutbox):
    resource = quiet(data_used_bytes=99 * GB)
    claimed = Alert.objects.create(
        kind="usage",
        subject=f"resource:{resource.pk}",
        threshold="95%",
        cycle=str(resource.data_limit_bytes),
        message="m",
        delivery_error=f"Sending since {now.isoformat()}",
    )
    never_tried = Alert.objects.create(kind="usage", subject="resource:0", threshold="80%", cycle="1", message="m")

    assert alerts_check(now=now) == []  # already recorded
    assert alerts_deliver_pending(now=now + dt.timedelta(minutes=5)) == []
    assert alerts_deliver_pending(now=now + dt.timedelta(minutes=20)) == [claimed, never_tried]
    assert len(mailoutbox) == 2


def test_it_gives_up_retrying_after_a_few_days(owner, now, mailoutbox):
    stale = Alert.objects.create(kind="usage", subject="resource:0", threshold="80%", cycle="1", message="m")
    Alert.objects.filter(pk=stale.pk).update(delivery_error="SMTPException: down")

    assert alerts_deliver_pending(now=now + dt.timedelta(days=4)) == []
    assert mailoutbox == []


def test_it_sends_nothing_new_when_run_twice(owner, customer_a, sandbox, now, mailoutbox):
    ProviderAccountFactory(kind="iproxy", low_balance_threshold_cents=5000)
    sandbox.control("balance", {"provider": "iproxy", "amount_cents": 100})
    quiet(customer=customer_a, expires_at=now + dt.timedelta(hours=5), data_used_bytes=97 * GB)
    connection()

    assert sorted(a.kind for a in alerts_check(now=now)) == ["expiry", "low_balance", "offline", "usage"]
    sent = len(mailoutbox)

    assert alerts_check(now=now) == []
    assert alerts_deliver_pending(now=now + dt.timedelta(hours=1)) == []
    assert len(mailoutbox) == sent == 4
    assert Alert.objects.count() == 4


def test_the_task_retries_then_checks(owner, now, mailoutbox):
    quiet(expires_at=timezone.now() + dt.timedelta(hours=5))

    assert alert_tasks.check_alerts() == {"retried": 0, "created": 1}
    assert alert_tasks.check_alerts() == {"retried": 0, "created": 0}
    assert alert_tasks.check_alerts.name == "inventory.check_alerts"
    assert len(mailoutbox) == 1


# Settings ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("ALERT_EXPIRY_HORIZONS_DAYS", "7,0", "ALERT_EXPIRY_HORIZONS_DAYS holds 0: each value must be a number of"),
        ("ALERT_EXPIRY_HORIZONS_DAYS", "7,soon", "ALERT_EXPIRY_HORIZONS_DAYS must be a comma-separated list"),
        ("ALERT_USAGE_THRESHOLDS_PERCENT", "80,101", "holds 101: each value must be a percentage from 1 to 100"),
        ("ALERT_USAGE_THRESHOLDS_PERCENT", "-5", "holds -5: each value must be a percentage from 1 to 100"),
        ("ALERT_STAFF_EMAILS", "ops@example.com,nobody", "ALERT_STAFF_EMAILS holds 'nobody', which is not an email"),
    ],
)
def test_it_refuses_bad_alert_settings(name, value, says):
    result = manage("check", DEBUG="true", **{name: value})
    assert result.returncode != 0
    assert says in result.stderr


def test_it_reads_alert_settings_from_the_environment():
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.ALERT_EXPIRY_HORIZONS_DAYS, s.ALERT_USAGE_THRESHOLDS_PERCENT, s.ALERT_STAFF_EMAILS)",
        DEBUG="true",
        ALERT_EXPIRY_HORIZONS_DAYS="14, 2,2",
        ALERT_USAGE_THRESHOLDS_PERCENT="50,100",
        ALERT_STAFF_EMAILS="ops@example.com, night@example.com",
    )
    assert result.returncode == 0, result.stderr
    assert "[2, 14] [50, 100] ['ops@example.com', 'night@example.com']" in result.stdout


def test_an_out_of_stock_alert_is_recorded_at_once_and_sent_by_a_worker_after_commit(
    owner, mailoutbox, django_capture_on_commit_callbacks
):
    from inventory.alerts import alert_deliver, alert_staff_out_of_stock

    account = ProviderAccountFactory()
    with django_capture_on_commit_callbacks() as queued:
        alert = alert_staff_out_of_stock(account=account, subject="product:1", message="“Port” cannot be sold.")
    # The customer's request only records it: no mail server is waited on there.
    assert alert is not None and alert.delivered_at is None and mailoutbox == []
    assert len(queued) == 1

    assert alert_deliver(alert_id=alert.pk) is True
    alert.refresh_from_db()
    assert alert.delivered_at is not None and len(mailoutbox) == 1
    # A task retried after it sent (a worker lost before acknowledging) sends nothing twice.
    assert alert_deliver(alert_id=alert.pk) is False and len(mailoutbox) == 1
    # The same day's shortage again is the same alert: nothing new to queue.
    with django_capture_on_commit_callbacks() as queued:
        assert alert_staff_out_of_stock(account=account, subject="product:1", message="again") is None
    assert queued == []
