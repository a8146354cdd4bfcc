"""Staff bulk actions on the inventory list: each row runs through its own audited action in a worker task,
one failing row never stops the others, and the job page shows a result per row."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from config.celery import app
from integrations.iproxy.kinds import IPROXY, IPROXY_CONNECTION
from integrations.proxyshop.kinds import PROXY_SHOP, SHOP_SUBSCRIPTION
from integrations.unknownproxies.kinds import ISP_TOKEN, RESI_TOKEN, UNKNOWN_PROXIES
from inventory.models import BulkItem, BulkJob, Resource
from inventory.sync import sync_account
from ops.models import AuditEvent
from ops.units import GB
from tests.factories import CustomerFactory, ProviderAccountFactory


@pytest.fixture
def eager_celery(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)


@pytest.fixture
def stock(sandbox):
    """The sandbox's demo inventory, mirrored by a real sync of each account."""
    for kind in (UNKNOWN_PROXIES, PROXY_SHOP, IPROXY):
        assert sync_account(account=ProviderAccountFactory(kind=kind)).outcome == "ok"
    return {
        "resi": Resource.objects.get(kind=RESI_TOKEN, upstream_id="resiActive01"),
        "unlimited": Resource.objects.get(kind=RESI_TOKEN, upstream_id="resiPools001"),  # no time limit
        "isp": Resource.objects.get(kind=ISP_TOKEN, upstream_id="ispActive001"),
        "shop": Resource.objects.get(kind=SHOP_SUBSCRIPTION, upstream_id="subnlrotating"),
        "phone": Resource.objects.filter(kind=IPROXY_CONNECTION, label="online with plan").get(),
    }


def run(client, data: dict, django_capture_on_commit_callbacks):
    """Post a bulk action (the worker runs eagerly on commit) and return its job and the results page."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("inventory:bulk-create"), data)
    assert response.status_code == 302, response.content.decode()[:500]
    job = BulkJob.objects.latest("id")
    assert response["Location"] == reverse("inventory:bulk-detail", args=[job.pk])
    return job, client.get(response["Location"])


def results(job: BulkJob) -> dict[int, tuple[str, str]]:
    return {item.resource_id: (item.outcome, item.message) for item in job.items.all()}


def test_support_assigns_rows_and_a_phone_fails_alone(
    client, support, stock, eager_celery, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(contact_email="buyer@example.com")
    client.force_login(support)
    rows = [stock["resi"], stock["phone"], stock["shop"]]
    job, page = run(
        client,
        {"action": "assign", "ids": [r.pk for r in rows], "customer": "BUYER@example.com"},
        django_capture_on_commit_callbacks,
    )
    got = results(job)
    assert got[stock["resi"].pk] == ("ok", f"assigned to {customer.name}")
    assert got[stock["shop"].pk][0] == "ok"
    assert got[stock["phone"].pk][0] == "failed" and "stays with staff" in got[stock["phone"].pk][1]
    assert set(Resource.objects.filter(customer=customer).values_list("pk", flat=True)) == {
        stock["resi"].pk,
        stock["shop"].pk,
    }
    audited = AuditEvent.objects.filter(action="inventory.assign", actor=support)
    assert sorted(int(a.target_id) for a in audited) == sorted([stock["resi"].pk, stock["shop"].pk])
    started = AuditEvent.objects.get(action="inventory.bulk.start")
    assert started.actor == support and started.data["rows"] == 3 and started.data["customer"] == customer.name
    body = page.content.decode()
    job.refresh_from_db()
    assert job.finished_at is not None
    assert "Finished: 3 of 3 rows done" in body and "2 done" in body and "1 failed" in body
    assert "hx-trigger" not in body  # finished: the page stops polling


def test_an_assign_to_nobody_puts_rows_back_in_stock(
    client, support, stock, customer_a, eager_celery, django_capture_on_commit_callbacks
):
    Resource.objects.filter(pk=stock["resi"].pk).update(customer=customer_a)
    client.force_login(support)
    job, _ = run(
        client, {"action": "assign", "ids": [stock["resi"].pk], "customer": ""}, django_capture_on_commit_callbacks
    )
    assert results(job)[stock["resi"].pk] == ("ok", "back in stock")
    assert Resource.objects.get(pk=stock["resi"].pk).customer is None


def test_support_refreshes_every_kind_and_a_vanished_token_fails_alone(
    client, support, stock, sandbox, eager_celery, django_capture_on_commit_callbacks
):
    gone = Resource.objects.create(
        account=stock["resi"].account, kind=RESI_TOKEN, upstream_id="notThereAny", label="ghost", upstream={}
    )
    Resource.objects.filter(pk=stock["resi"].pk).update(data_used_bytes=1)  # stale: the refresh corrects it
    client.force_login(support)
    rows = [stock["resi"], gone, stock["isp"], stock["shop"], stock["phone"]]
    job, _ = run(client, {"action": "refresh", "ids": [r.pk for r in rows]}, django_capture_on_commit_callbacks)
    got = results(job)
    assert got[gone.pk][0] == "failed"
    assert [got[r.pk] for r in rows if r != gone] == [("ok", "refreshed from upstream")] * 4
    assert Resource.objects.get(pk=stock["resi"].pk).data_used_bytes == 11_574_848_653
    actions = set(AuditEvent.objects.filter(actor=support).values_list("action", flat=True))
    assert {
        "inventory.resi_token.refresh",
        "inventory.isp_token.refresh",
        "inventory.subscription.refresh",
        "iproxy.connection.refresh",
    } <= actions


def test_a_bulk_export_downloads_the_rows_with_proxies(
    client, support, stock, eager_celery, django_capture_on_commit_callbacks
):
    client.force_login(support)
    rows = [stock["resi"], stock["phone"], stock["shop"]]
    job, page = run(
        client,
        {"action": "export", "ids": [r.pk for r in rows], "export_format": "json"},
        django_capture_on_commit_callbacks,
    )
    got = results(job)
    assert got[stock["phone"].pk] == ("failed", "nothing to export as JSON")
    assert got[stock["resi"].pk] == ("ok", "1 proxy line")
    assert reverse("inventory:bulk-export", args=[job.pk]) in page.content.decode()
    download = client.get(reverse("inventory:bulk-export", args=[job.pk]))
    items = json.loads(b"".join(download.streaming_content))
    assert sorted(item["id"] for item in items) == sorted([stock["resi"].pk, stock["shop"].pk])


def test_all_rows_matching_the_filter(client, support, stock, eager_celery, django_capture_on_commit_callbacks):
    client.force_login(support)
    job, _ = run(
        client,
        {"action": "export", "all_matching": "on", "filter_query": "kind=resi_token&q=demo", "export_format": "txt"},
        django_capture_on_commit_callbacks,
    )
    expected = Resource.objects.filter(kind=RESI_TOKEN, label__icontains="demo")
    assert expected.count() >= 3
    assert set(results(job)) == set(expected.values_list("pk", flat=True))


def test_an_owner_extends_what_each_kind_allows(client, owner, stock, eager_celery, django_capture_on_commit_callbacks):
    client.force_login(owner)
    before = Resource.objects.get(pk=stock["resi"].pk).expires_at
    rows = [stock["resi"], stock["unlimited"], stock["isp"], stock["shop"], stock["phone"]]
    job, _ = run(client, {"action": "extend", "ids": [r.pk for r in rows]}, django_capture_on_commit_callbacks)
    got = results(job)
    assert got[stock["resi"].pk][0] == "ok"
    assert (Resource.objects.get(pk=stock["resi"].pk).expires_at - before).days == 30
    assert got[stock["unlimited"].pk] == ("failed", "this token has no time limit to extend")
    assert got[stock["isp"].pk][0] == "failed" and "replacement" in got[stock["isp"].pk][1]
    assert got[stock["shop"].pk][0] == "failed" and "renewal plan" in got[stock["shop"].pk][1]
    assert got[stock["phone"].pk][0] == "ok"
    assert AuditEvent.objects.filter(action="inventory.resi_token.modify", actor=owner).count() == 1
    assert AuditEvent.objects.filter(action="iproxy.connection.prolongate", actor=owner).count() == 1


def test_an_owner_adds_gb_to_residential_tokens_only(
    client, owner, stock, eager_celery, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    limit = stock["resi"].data_limit_bytes
    job, _ = run(
        client,
        {"action": "add_gb", "gb": "5", "ids": [stock["resi"].pk, stock["shop"].pk]},
        django_capture_on_commit_callbacks,
    )
    got = results(job)
    assert got[stock["resi"].pk] == ("ok", "5 GB added")
    assert Resource.objects.get(pk=stock["resi"].pk).data_limit_bytes == limit + 5 * GB
    assert got[stock["shop"].pk] == ("failed", "Proxy shop resources are not sold by GB, so they cannot get more")


@pytest.mark.parametrize("action", ["extend", "add_gb"])
def test_support_may_not_spend_in_bulk(client, support, stock, action):
    client.force_login(support)
    response = client.post(reverse("inventory:bulk-create"), {"action": action, "gb": "1", "ids": [stock["resi"].pk]})
    assert response.status_code == 403
    assert not BulkJob.objects.exists()


def test_customers_may_not_run_or_see_bulk_jobs(client, alice, support, stock):
    job = BulkJob.objects.create(action="refresh", actor=support)
    client.force_login(alice)
    assert (
        client.post(reverse("inventory:bulk-create"), {"action": "refresh", "ids": [stock["resi"].pk]}).status_code
        == 403
    )
    assert client.get(reverse("inventory:bulk-detail", args=[job.pk])).status_code == 403
    assert not BulkJob.objects.exclude(pk=job.pk).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "refresh"}, "Tick the rows"),
        ({"action": "assign", "customer": "nobody@example.com"}, "No customer has the id or contact email"),
        ({"action": "add_gb"}, "how many GB"),
        ({"action": "export"}, "Choose an export format"),
        ({"action": "explode"}, "Select a valid choice"),
    ],
)
def test_bad_input_is_refused_with_a_message(client, owner, stock, data, message):
    client.force_login(owner)
    payload = {"ids": [stock["resi"].pk], **data} if data.get("action") != "refresh" else data
    response = client.post(reverse("inventory:bulk-create"), payload, follow=True)
    assert message in response.content.decode()
    assert not BulkJob.objects.exists()


def test_the_job_page_polls_while_rows_are_waiting(client, support, stock):
    job = BulkJob.objects.create(action="refresh", actor=support)
    BulkItem.objects.create(job=job, resource=stock["resi"])
    client.force_login(support)
    page = client.get(reverse("inventory:bulk-detail", args=[job.pk]))
    assert 'hx-trigger="every 1s"' in page.content.decode()
    fragment = client.get(reverse("inventory:bulk-detail", args=[job.pk]), headers={"HX-Request": "true"})
    assert "<html" not in fragment.content.decode() and "0 of 1 rows done" in fragment.content.decode()


def test_a_long_job_hands_the_rest_to_a_new_task(support, stock):
    """A task has a time limit: past its share of time the job stops and is queued again for the rest."""
    from inventory import bulk

    rows = [stock["resi"], stock["shop"], stock["isp"]]
    job = bulk.bulk_job_create(action="export", actor=support, resource_ids=[r.pk for r in rows], export_format="txt")
    assert bulk.bulk_job_run(job=job, seconds=0) is False
    assert job.items.filter(outcome="pending").count() == 2
    assert bulk.bulk_job_run(job=job) is True
    job.refresh_from_db()
    assert job.finished_at is not None and not job.items.filter(outcome="pending").exists()
