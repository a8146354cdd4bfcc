"""Staff queue a sync from the provider page and see its outcome; the demo inventory is prepared from the sandbox."""

from __future__ import annotations

import pytest

from config.celery import app
from demo.inventory import demo_inventory_prepare
from inventory.models import Resource, SyncRun
from tests.factories import CustomerFactory, ProviderAccountFactory


@pytest.fixture
def eager_celery(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)


def test_support_queues_a_sync_and_sees_its_outcome(
    client, support, sandbox, eager_celery, django_capture_on_commit_callbacks
):
    account = ProviderAccountFactory(kind="shop")
    client.force_login(support)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/staff/inventory/sync/{account.pk}/", follow=True)
    assert b"Sync of" in response.content
    run = SyncRun.objects.get(account=account)
    assert run.outcome == "ok"
    assert run.created == Resource.objects.filter(account=account).count() > 0
    page = client.get("/staff/providers/").content.decode()
    assert "· ok" in page


def test_a_disabled_account_is_not_synced(client, support, sandbox, eager_celery, django_capture_on_commit_callbacks):
    account = ProviderAccountFactory(kind="shop", enabled=False)
    client.force_login(support)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/staff/inventory/sync/{account.pk}/", follow=True)
    assert b"is disabled" in response.content
    assert not SyncRun.objects.exists()


def test_customers_cannot_trigger_syncs(client, alice, db):
    account = ProviderAccountFactory(kind="shop")
    client.force_login(alice)
    assert client.post(f"/staff/inventory/sync/{account.pk}/").status_code == 403


def test_the_demo_inventory_goes_to_alice_and_bob(db, sandbox, settings):
    settings.DEMO_MODE = True
    names = []
    for kind in ("unknownproxies", "shop", "iproxy"):
        names.append(ProviderAccountFactory(kind=kind).name)
    alice = CustomerFactory(contact_email="alice@example.com")
    bob = CustomerFactory(contact_email="bob@example.com")
    assigned = demo_inventory_prepare(account_names=names)
    assert assigned == 9
    assert set(alice.resources.values_list("upstream_id", flat=True)) == {
        "resiActive01",
        "resiPools001",
        "ispActive001",
        "subnlrotating",
        "mMBDwDg2e3",
    }
    assert bob.resources.count() == 4
    assert demo_inventory_prepare(account_names=names) == 0  # idempotent


def test_the_demo_inventory_refuses_outside_demo_mode(db, settings):
    settings.DEMO_MODE = False
    with pytest.raises(RuntimeError, match="demo mode"):
        demo_inventory_prepare(account_names=[])
