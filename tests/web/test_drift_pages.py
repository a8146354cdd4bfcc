"""Staff drift pages: the queue, an item with its two buttons, the count on the dashboard and the resource page;
the customer's proxy page says when it was last synced."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.unknownproxies.kinds import UNKNOWN_PROXIES
from inventory.models import DriftItem, Resource
from inventory.sync import sync_account
from ops.models import AuditEvent
from providers.registry import client_for_account
from tests.factories import ResourceFactory
from tests.support.accounts import synced_account
from tests.support.pages import page


@pytest.fixture
def account(db, sandbox):
    return synced_account(UNKNOWN_PROXIES, name="Sandbox UP")


@pytest.fixture
def item(account, customer_a):
    isp = Resource.objects.get(account=account, upstream_id="ispActive001")
    isp.customer = customer_a
    isp.save(update_fields=["customer"])
    client_for_account(account).modify_isp_token("ispActive001", password="Console123")
    sync_account(account=account)
    return DriftItem.objects.get()


def test_the_queue_lists_open_drift_with_secrets_masked(client, support, item):
    client.force_login(support)
    text = page(client.get("/staff/drift/"))
    assert "Password" in text and "Alice Analytics Ltd" in text and "[redacted]" in text
    assert "Console123" not in text and item.before not in text
    assert f"/staff/drift/{item.pk}/" in text


def test_the_item_page_shows_staff_both_values_and_the_buttons(client, support, item):
    client.force_login(support)
    text = page(client.get(f"/staff/drift/{item.pk}/"))
    assert "Console123" in text and item.before in text
    assert f"/staff/drift/{item.pk}/restore/" in text and f"/staff/drift/{item.pk}/accept/" in text


def test_customers_get_no_drift_pages(client, alice, item):
    client.force_login(alice)
    assert client.get("/staff/drift/").status_code == 403
    assert client.get(f"/staff/drift/{item.pk}/").status_code == 403
    assert client.post(f"/staff/drift/{item.pk}/restore/").status_code == 403
    item.refresh_from_db()
    assert item.state == DriftItem.State.OPEN


def test_the_buttons_take_posts_only(client, support, item):
    client.force_login(support)
    assert client.get(f"/staff/drift/{item.pk}/restore/").status_code == 405
    assert client.get(f"/staff/drift/{item.pk}/accept/").status_code == 405


def test_support_restores_ours_from_the_item_page(client, support, item, account):
    ours = item.before
    client.force_login(support)
    response = client.post(f"/staff/drift/{item.pk}/restore/", follow=True)
    assert "Restored: the password is ours again upstream." in page(response)
    assert client_for_account(account).get_isp_token("ispActive001").password == ours
    assert AuditEvent.objects.filter(action="inventory.drift.restore", actor=support).exists()
    # A double click: the second post changes nothing.
    again = client.post(f"/staff/drift/{item.pk}/restore/", follow=True)
    assert "already restored" in page(again).lower()
    assert AuditEvent.objects.filter(action="inventory.drift.restore").count() == 1


def test_support_accepts_and_the_queue_filters_by_state(client, support, item):
    client.force_login(support)
    response = client.post(f"/staff/drift/{item.pk}/accept/", follow=True)
    assert "Accepted" in page(response)
    assert f"/staff/drift/{item.pk}/" not in page(client.get("/staff/drift/"))
    assert f"/staff/drift/{item.pk}/" in page(client.get("/staff/drift/?state=accepted"))
    assert f"/staff/drift/{item.pk}/" in page(client.get("/staff/drift/?state=all"))


def test_the_queue_filters_by_provider(client, support, item):
    client.force_login(support)
    assert f"/staff/drift/{item.pk}/" in page(client.get("/staff/drift/?provider=unknownproxies"))
    assert f"/staff/drift/{item.pk}/" not in page(client.get("/staff/drift/?provider=shop"))


def test_the_restore_button_is_replaced_by_the_reason_where_it_cannot_restore(client, support, account, sandbox):
    resi = Resource.objects.get(account=account, upstream_id="resiActive01")
    sandbox.app.provider("unknownproxies").resi["resiActive01"].password = "Console99"
    sync_account(account=account)
    item = DriftItem.objects.get(resource=resi)
    client.force_login(support)
    text = page(client.get(f"/staff/drift/{item.pk}/"))
    assert "no call that sets the password back" in text
    assert f"/staff/drift/{item.pk}/restore/" not in text


def test_the_dashboard_counts_open_drift_and_the_resource_page_shows_it(client, owner, item):
    client.force_login(owner)
    home = page(client.get("/staff/"))
    assert "changed outside the dashboard" in home and "/staff/drift/" in home
    detail = page(client.get(f"/staff/inventory/{item.resource_id}/"))
    assert "Changed outside the dashboard" in detail and f"/staff/drift/{item.pk}/" in detail


def test_the_queue_costs_the_same_queries_for_few_and_many_items(client, support, db):
    client.force_login(support)

    def queries_with(count: int) -> int:
        DriftItem.objects.all().delete()
        for _ in range(count):
            resource = ResourceFactory(customer=None)
            DriftItem.objects.create(
                resource=resource,
                account=resource.account,
                field_key="dataLimit",
                field_label="Data limit",
                before=1,
                after=2,
            )
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/staff/drift/").status_code == 200
        return len(queries.captured_queries)

    assert queries_with(2) == queries_with(12)


def test_the_customers_proxy_page_says_when_it_was_last_synced(client, alice, account, customer_a):
    isp = Resource.objects.get(account=account, upstream_id="ispActive001")
    isp.customer = customer_a
    isp.save(update_fields=["customer"])
    client.force_login(alice)
    text = page(client.get(f"/portal/proxies/{isp.pk}/"))
    assert "Last synced" in text and f"{isp.last_seen_at:%Y-%m-%d %H:%M}" in text
