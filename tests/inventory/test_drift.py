"""The drift queue: a change made in the provider's console (through the sandbox's own API, as the console
would) appears once after a sync, our own changes never do, and staff accept or restore it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.iproxy.kinds import IPROXY_ACCESS, IPROXY_CONNECTION
from integrations.proxyshop import actions as shop_actions
from integrations.unknownproxies import actions as up_actions
from integrations.unknownproxies.kinds import UNKNOWN_PROXIES
from inventory import drift
from inventory.drift import drift_accept, drift_restore
from inventory.models import Alert, DriftItem, Resource, SyncRun
from inventory.sync import sync_account
from notifications.models import Notification
from ops import audit
from ops.models import AuditEvent
from providers.http import errors
from providers.registry import ActionRefused, client_for_account
from tests.factories import ProviderAccountFactory
from tests.support.accounts import synced_account

GB = 10**9


@pytest.fixture
def account(db, sandbox):
    return synced_account(UNKNOWN_PROXIES)


def sold(account, upstream_id: str, customer) -> Resource:
    resource = Resource.objects.get(account=account, upstream_id=upstream_id)
    resource.customer = customer
    resource.save(update_fields=["customer"])
    return resource


def console(account):
    """The provider's console: its own API, called directly, never through our actions."""
    return client_for_account(account)


def open_items(resource=None):
    items = DriftItem.objects.filter(state=DriftItem.State.OPEN)
    return list(items.filter(resource=resource) if resource is not None else items)


# Detection ---------------------------------------------------------------------------------------


def test_it_opens_one_item_for_a_password_changed_in_the_console(account, customer_a):
    isp = sold(account, "ispActive001", customer_a)
    ours = isp.upstream["password"]
    console(account).modify_isp_token("ispActive001", password="Console123")

    run = sync_account(account=account)

    assert run.outcome == SyncRun.Outcome.OK
    [item] = open_items()
    assert (item.resource, item.account, item.customer) == (isp, account, customer_a)
    assert (item.field_key, item.field_label, item.secret) == ("password", "Password", True)
    assert (item.before, item.after) == (ours, "Console123")
    isp.refresh_from_db()
    assert isp.upstream["password"] == "Console123"  # the mirror says what upstream says


def test_a_second_sync_updates_the_item_instead_of_duplicating_it(account, customer_a):
    isp = sold(account, "ispActive001", customer_a)
    console(account).modify_isp_token("ispActive001", password="Console123")
    sync_account(account=account)
    [first] = open_items()

    sync_account(account=account)
    console(account).modify_isp_token("ispActive001", password="Console456")
    sync_account(account=account)

    [item] = open_items(isp)
    assert item.pk == first.pk
    assert (item.before, item.after) == (first.before, "Console456")
    assert item.last_seen_at > first.last_seen_at
    assert DriftItem.objects.count() == 1


def test_it_supersedes_the_item_when_upstream_comes_back_to_our_value(account, customer_a):
    isp = sold(account, "ispActive001", customer_a)
    ours = isp.upstream["password"]
    console(account).modify_isp_token("ispActive001", password="Console123")
    sync_account(account=account)

    console(account).modify_isp_token("ispActive001", password=ours)
    sync_account(account=account)

    assert open_items() == []
    assert DriftItem.objects.get().state == DriftItem.State.SUPERSEDED


def test_our_own_change_is_never_drift(account, customer_a, owner):
    isp = sold(account, "ispActive001", customer_a)
    resi = sold(account, "resiActive01", customer_a)
    up_actions.isp_token_modify(resource=isp, actor=owner, password="OurNew123", proxy_type="socks")
    up_actions.resi_token_modify(resource=resi, actor=owner, data_limit=200 * GB)

    run = sync_account(account=account)

    assert run.updated >= 2  # the rows our actions wrote are rewritten by the sync, and judged
    assert open_items() == []


def test_data_usage_and_time_passing_are_never_drift(account, customer_a, sandbox):
    sold(account, "resiActive01", customer_a)
    sandbox.control("usage", {"token": "resiActive01", "bytes": 5 * GB})
    sandbox.control("clock", {"advance_seconds": 3 * 24 * 3600})

    sync_account(account=account)

    assert open_items() == []


def test_it_watches_limits_durations_pools_and_whitelists(account, customer_a):
    resi = sold(account, "resiActive01", customer_a)
    ip_token = sold(account, "ispIpAuth001", customer_a)
    console(account).modify_resi_token("resiActive01", data_limit=300 * GB, duration_hours=2000)
    console(account).modify_isp_token("ispIpAuth001", authenticated_ips=["203.0.113.9"])

    sync_account(account=account)

    assert {(item.resource_id, item.field_key) for item in open_items()} == {
        (resi.pk, "dataLimit"),
        (resi.pk, "durationHours"),
        (ip_token.pk, "authenticatedIps"),
    }
    limit = DriftItem.objects.get(field_key="dataLimit")
    assert (limit.before, limit.after) == (100 * GB, 300 * GB)


def test_a_row_with_our_action_after_the_sync_began_reading_is_not_judged(account, customer_a, owner):
    """The race: the sync read upstream, then our action changed it; the row the sync holds is not judged."""
    isp = sold(account, "ispActive001", customer_a)
    console(account).modify_isp_token("ispActive001", password="Console123")
    audit.record(action="inventory.isp_token.modify", actor=owner, target=isp, data={"fields": ["password"]})
    AuditEvent.objects.filter(target_id=str(isp.pk)).update(created_at=timezone.now() + dt.timedelta(seconds=30))

    sync_account(account=account)

    assert open_items() == []


def test_a_change_of_ours_whose_answer_was_lost_is_not_judged(account, customer_a, owner, sandbox):
    isp = sold(account, "ispActive001", customer_a)
    sandbox.control("faults", {"rules": [{"provider": "unknownproxies", "match": "PATCH", "kind": "lost_response"}]})
    with pytest.raises(errors.UnknownOutcomeError):
        up_actions.isp_token_modify(resource=isp, actor=owner, password="Maybe123")

    sync_account(account=account)

    assert open_items() == []


def test_a_lost_answer_absorbed_by_an_earlier_sync_hides_no_later_console_change(account, customer_a, owner, sandbox):
    isp = sold(account, "ispActive001", customer_a)
    sandbox.control("faults", {"rules": [{"provider": "unknownproxies", "match": "PATCH", "kind": "lost_response"}]})
    with pytest.raises(errors.UnknownOutcomeError):
        up_actions.isp_token_modify(resource=isp, actor=owner, password="Maybe123")
    sync_account(account=account)
    console(account).modify_isp_token("ispActive001", password="Console123")

    sync_account(account=account)

    [item] = open_items(isp)
    assert (item.before, item.after) == ("Maybe123", "Console123")


def test_a_sold_token_that_vanished_is_drift_and_its_other_items_are_superseded(account, customer_a, support, sandbox):
    isp = sold(account, "ispActive001", customer_a)
    console(account).modify_isp_token("ispActive001", password="Console123")
    sync_account(account=account)
    sandbox.app.provider("unknownproxies").isp.pop("ispActive001")  # deleted in the console

    run = sync_account(account=account)

    assert run.vanished == 1
    [gone] = open_items()
    assert (gone.resource, gone.field_key, gone.customer) == (isp, drift.PRESENCE.key, customer_a)
    assert (gone.before, gone.after) == (drift.LISTED, drift.GONE)
    assert DriftItem.objects.get(field_key="password").state == DriftItem.State.SUPERSEDED
    with pytest.raises(ActionRefused, match="cannot be brought back"):
        drift_restore(item=gone, actor=support)


def test_staff_are_alerted_once_per_sync_that_finds_new_drift(account, customer_a, owner, mailoutbox):
    owner.email = "owner@example.com"
    owner.save(update_fields=["email"])
    sold(account, "ispActive001", customer_a)
    console(account).modify_isp_token("ispActive001", password="Console123", proxy_type="socks")

    run = sync_account(account=account)
    sync_account(account=account)

    [alert] = Alert.objects.filter(kind=Alert.Kind.DRIFT)
    assert (alert.account, alert.customer, alert.cycle) == (account, None, f"run:{run.pk}")
    assert "2 changes made outside the dashboard" in alert.message and "/staff/drift/" in alert.message
    [email] = mailoutbox
    assert email.to == ["owner@example.com"] and "Console123" not in email.body


def test_stock_that_vanished_is_not_drift(account, sandbox):
    sandbox.app.provider("unknownproxies").isp.pop("ispActive001")

    sync_account(account=account)

    assert open_items() == []


def test_a_mirrored_row_it_cannot_read_is_rewritten_without_judging_it(account, customer_a):
    isp = sold(account, "ispActive001", customer_a)
    Resource.objects.filter(pk=isp.pk).update(upstream=["not", "an", "object"], fingerprint="")

    run = sync_account(account=account)

    assert run.outcome == SyncRun.Outcome.OK
    assert open_items() == []
    isp.refresh_from_db()
    assert isp.upstream["token"] == "ispActive001"


def test_an_unchanged_resync_adds_no_query(account, customer_a):
    sold(account, "ispActive001", customer_a)
    sync_account(account=account)
    with CaptureQueriesContext(connection) as queries:
        sync_account(account=account)
    assert not [
        q for q in queries.captured_queries if "inventory_driftitem" in q["sql"] or "ops_auditevent" in q["sql"]
    ]


# Deciding ----------------------------------------------------------------------------------------


@pytest.fixture
def password_drift(account, customer_a, alice):
    isp = sold(account, "ispActive001", customer_a)
    ours = isp.upstream["password"]
    console(account).modify_isp_token("ispActive001", password="Console123")
    sync_account(account=account)
    return open_items()[0], ours


def test_restore_pushes_our_value_back_upstream_and_is_audited(account, password_drift, support):
    item, ours = password_drift

    assert drift_restore(item=item, actor=support) is True

    assert console(account).get_isp_token("ispActive001").password == ours
    item.refresh_from_db()
    assert (item.state, item.decided_by) == (DriftItem.State.RESTORED, support)
    assert item.resource.upstream["password"] == ours
    event = AuditEvent.objects.get(action="inventory.drift.restore")
    assert event.actor == support and event.data["field"] == "password"
    assert "Console123" not in str(event.data) and ours not in str(event.data)
    assert AuditEvent.objects.filter(action="inventory.isp_token.modify", actor=support).exists()
    # The next sync sees our value again: nothing new opens.
    sync_account(account=account)
    assert open_items() == []


def test_a_second_restore_does_nothing(account, password_drift, support, sandbox):
    item, _ = password_drift
    drift_restore(item=item, actor=support)
    calls = len(sandbox.calls("PATCH"))

    assert drift_restore(item=item, actor=support) is False
    assert drift_accept(item=item, actor=support) is False

    assert len(sandbox.calls("PATCH")) == calls
    assert AuditEvent.objects.filter(action__startswith="inventory.drift.").count() == 1


def test_accept_keeps_the_mirror_and_tells_the_customer(
    account, password_drift, support, alice, django_capture_on_commit_callbacks
):
    item, _ = password_drift
    with django_capture_on_commit_callbacks(execute=True):
        assert drift_accept(item=item, actor=support) is True

    item.refresh_from_db()
    assert item.state == DriftItem.State.ACCEPTED
    assert item.resource.upstream["password"] == "Console123"
    assert console(account).get_isp_token("ispActive001").password == "Console123"
    event = AuditEvent.objects.get(action="inventory.drift.accept")
    assert event.data["upstream_was"] == audit.REDACTED
    [told] = Notification.objects.filter(user=alice)
    assert told.kind == "change" and "password" in told.body.lower()
    assert "Console123" not in told.body
    # A second accept tells no one again.
    with django_capture_on_commit_callbacks(execute=True):
        assert drift_accept(item=item, actor=support) is False
    assert Notification.objects.filter(user=alice).count() == 1


def test_it_refuses_to_restore_what_the_provider_cannot_set(account, customer_a, support, sandbox):
    resi = sold(account, "resiActive01", customer_a)
    sim = sandbox.app.provider("unknownproxies")
    sim.resi["resiActive01"].password = "ConsoleMade99"  # the console regenerated it; the API cannot
    sync_account(account=account)
    [item] = open_items(resi)
    calls = len(sandbox.calls("PATCH"))

    with pytest.raises(ActionRefused, match="no call that sets the password back"):
        drift_restore(item=item, actor=support)

    assert len(sandbox.calls("PATCH")) == calls
    item.refresh_from_db()
    assert item.state == DriftItem.State.OPEN


# The proxy shop ------------------------------------------------------------------------------------


@pytest.fixture
def shop(db, sandbox):
    account = ProviderAccountFactory(kind="shop")
    sync_account(account=account)
    return account


def test_a_network_switched_in_the_shops_panel_is_drift_and_restores(shop, customer_a, support):
    subscription = sold(shop, "subdestatic", customer_a)
    console(shop).switch_network("subdestatic", "netnlams")

    sync_account(account=shop)

    [item] = open_items(subscription)
    assert (item.field_key, item.before, item.after) == ("network", "DE-BER Berlin", "NL-AMS Amsterdam")
    assert drift_restore(item=item, actor=support) is True
    upstream = next(s for s in console(shop).subscriptions() if s.id == "subdestatic")
    assert upstream.network_label == "DE-BER Berlin"
    assert AuditEvent.objects.filter(action="inventory.shop_subscription.switch_network", actor=support).exists()
    sync_account(account=shop)
    assert open_items() == []


def test_new_credentials_from_the_shops_panel_can_only_be_accepted(shop, customer_a, support):
    subscription = sold(shop, "subnlrotating", customer_a)
    console(shop).change_credentials("subnlrotating")
    console(shop).set_rotation_policy("subnlrotating", 30)

    sync_account(account=shop)

    items = {item.field_key: item for item in open_items(subscription)}
    assert set(items) == {"password", "rotation"}
    assert (items["rotation"].before, items["rotation"].after) == (10, 30)
    with pytest.raises(ActionRefused, match="no call that sets the password back"):
        drift_restore(item=items["password"], actor=support)
    assert drift_accept(item=items["password"], actor=support) is True
    assert drift_restore(item=items["rotation"], actor=support) is True
    assert next(s for s in console(shop).subscriptions() if s.id == "subnlrotating").rotation_policy == 10


def test_our_own_shop_actions_are_never_drift(shop, customer_a, owner):
    subscription = sold(shop, "subnlrotating", customer_a)
    shop_actions.subscription_change_credentials(resource=subscription, actor=owner)
    shop_actions.subscription_set_rotation(resource=subscription, actor=owner, minutes=5)
    shop_actions.subscription_rotate_now(resource=subscription, actor=owner)

    sync_account(account=shop)

    assert open_items() == []


# iProxy ----------------------------------------------------------------------------------------------


@pytest.fixture
def iproxy(db, sandbox, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "drift"}}
    account = ProviderAccountFactory(kind="iproxy")
    sync_account(account=account)
    return account


def main_access(account) -> Resource:
    """The demo's userpass http access on the online phone."""
    accesses = Resource.objects.filter(account=account, kind=IPROXY_ACCESS).select_related("parent")
    return next(access for access in accesses if access.upstream.get("description") == "main http proxy")


def test_a_proxy_access_password_changed_in_the_console_is_drift_and_restores(iproxy, customer_a, support):
    access = main_access(iproxy)
    sold(iproxy, access.upstream_id, customer_a)
    ours = access.upstream["auth"]["password"]
    login = access.upstream["auth"]["login"]
    console(iproxy).update_proxy_access(access.parent.upstream_id, access.upstream_id, login=login, password="console9")

    sync_account(account=iproxy)

    [item] = open_items(access)
    assert (item.field_key, item.before, item.after, item.secret) == ("password", ours, "console9", True)
    assert drift_restore(item=item, actor=support) is True
    [upstream] = [a for a in console(iproxy).list_all_proxy_accesses() if a.id == access.upstream_id]
    assert (upstream.auth.login, upstream.auth.password) == (login, ours)


def test_a_phone_setting_changed_in_the_console_is_staff_drift_and_restores(iproxy, support):
    phone = Resource.objects.get(account=iproxy, kind=IPROXY_CONNECTION, label="online with plan")
    ours = phone.upstream["settings"]["ip_change_interval_minutes"]
    console(iproxy).update_connection_settings(phone.upstream_id, ip_change_interval_minutes=ours + 7)

    sync_account(account=iproxy)

    [item] = open_items(phone)
    assert (item.field_key, item.before, item.after, item.customer) == (
        "ip_change_interval_minutes",
        ours,
        ours + 7,
        None,
    )
    assert drift_restore(item=item, actor=support) is True
    assert console(iproxy).get_connection(phone.upstream_id).settings.ip_change_interval_minutes == ours


def test_a_sold_access_closed_in_the_console_is_drift(iproxy, customer_a):
    access = main_access(iproxy)
    sold(iproxy, access.upstream_id, customer_a)
    console(iproxy).delete_proxy_access(access.parent.upstream_id, access.upstream_id)

    sync_account(account=iproxy)

    [item] = open_items(access)
    assert item.field_key == drift.PRESENCE.key and item.customer == customer_a
