"""The mirror's admin: lists and searches resources, assigns a customer (audited), keeps sync runs read-only."""

from __future__ import annotations

import pytest

from inventory.models import Resource, SyncRun
from inventory.sync import sync_account
from ops.models import AuditEvent
from tests.inventory.test_sync import unique_account


@pytest.fixture
def admin_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def shop_resources(sandbox, db):
    account = unique_account("shop")
    sync_account(account=account)
    return account


def test_it_lists_and_searches_resources(admin_client, shop_resources):
    response = admin_client.get("/admin/inventory/resource/", {"q": "subnlrotating"})

    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


def test_it_assigns_a_customer_through_the_service(admin_client, shop_resources, customer_a):
    resource = Resource.objects.get(account=shop_resources, upstream_id="subdestatic")

    response = admin_client.post(f"/admin/inventory/resource/{resource.pk}/change/", {"customer": customer_a.pk})

    assert response.status_code == 302
    resource.refresh_from_db()
    assert resource.customer == customer_a
    assert AuditEvent.objects.filter(action="inventory.assign", target_id=str(resource.pk)).exists()


def test_the_change_page_hides_upstream_secrets(admin_client, shop_resources):
    resource = Resource.objects.get(account=shop_resources, upstream_id="subnlrotating")

    response = admin_client.get(f"/admin/inventory/resource/{resource.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert resource.upstream["networkLabel"] in page
    assert resource.upstream["credentials"]["password"] not in page
    assert resource.upstream["rotate"]["rotatePath"] not in page


def test_sync_runs_are_read_only(admin_client, shop_resources):
    run = SyncRun.objects.get(account=shop_resources)

    assert admin_client.get("/admin/inventory/syncrun/").status_code == 200
    assert admin_client.get(f"/admin/inventory/syncrun/{run.pk}/change/").status_code == 200
    admin_client.post(f"/admin/inventory/syncrun/{run.pk}/change/", {"outcome": "failed"})
    run.refresh_from_db()
    assert run.outcome == SyncRun.Outcome.OK
    assert admin_client.get("/admin/inventory/syncrun/add/").status_code == 403


def test_a_sync_runs_page_lists_the_rows_it_could_not_mirror(admin_client, sandbox):
    account = unique_account("unknownproxies")
    sandbox.control("usage", {"token": "resiActive01", "bytes": 10**30})
    run = sync_account(account=account)

    page = admin_client.get(f"/admin/inventory/syncrun/{run.pk}/change/").content.decode()

    assert "Rows not mirrored as listed" in page
    assert "<code>resiActive01</code>" in page and "stored as unknown" in page
    listing = admin_client.get("/admin/inventory/syncrun/").content.decode()
    assert "column-problem_count" in listing
