"""The staff audit page: business events and admin edits, filtered by actor, customer, resource, action and
time, newest first by keyset; owner and support read it (never a secret), customers may not."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from auditlog.models import LogEntry
from django.utils import timezone

from billing.models import Product
from integrations.proxyshop.kinds import PROXY_SHOP, SHOP_PLAN
from ops import audit
from ops.models import AuditEvent
from providers.models import ProviderAccount
from tests.factories import ProviderAccountFactory, ResourceFactory
from tests.support.admin_forms import admin_change

pytestmark = pytest.mark.django_db

AUDIT = "/staff/audit/"


def rows(response) -> str:
    assert response.status_code == 200, response.status_code
    body = response.content.decode().split('id="audit-rows"', 1)[1].split("</tbody>", 1)[0]
    return html.unescape(re.sub(r"</?code>", "", body))


def older_link(response) -> str | None:
    found = re.search(r'<a href="([^"]+)">Older', response.content.decode())
    return html.unescape(found.group(1)) if found else None


@pytest.fixture
def events(owner, support, customer_a, customer_b):
    resource = ResourceFactory(customer=customer_a, label="alicetok")
    audit.record(action="inventory.assign", actor=support, target=resource, customer=customer_a, data={"to": "a"})
    audit.record(action="billing.ledger.top_up", actor=owner, customer=customer_b, data={"amount": 500})
    audit.record(action="provider_account.update", actor=owner, data={"fields": ["secret"], "secret": "hunter2"})
    audit.record(action="inventory.sync", data={"seen": 3})
    return resource


@pytest.mark.parametrize("who", ["owner", "support"])
def test_staff_read_the_business_events(client, request, who, events):
    client.force_login(request.getfixturevalue(who))
    listed = rows(client.get(AUDIT))
    for action in ("inventory.assign", "billing.ledger.top_up", "provider_account.update", "inventory.sync"):
        assert action in listed


def test_customers_may_not_read_it(client, alice, events):
    client.force_login(alice)
    assert client.get(AUDIT).status_code == 403
    assert client.get(f"{AUDIT}?tab=changes").status_code == 403


def test_an_anonymous_visitor_is_sent_to_sign_in(client, db):
    assert client.get(AUDIT).url.startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("actor=support", ["inventory.assign"], ["billing.ledger.top_up", "inventory.sync"]),
        ("actor=SYSTEM", ["inventory.sync"], ["inventory.assign"]),
        ("action=billing.", ["billing.ledger.top_up"], ["inventory.assign", "provider_account.update"]),
        ("action=inventory.assign", ["inventory.assign"], ["inventory.sync", "billing.ledger.top_up"]),
    ],
)
def test_it_filters_by_actor_and_action(client, support, events, query, shown, hidden):
    client.force_login(support)
    listed = rows(client.get(f"{AUDIT}?{query}"))
    assert all(action in listed for action in shown)
    assert not any(action in listed for action in hidden)


def test_it_filters_by_customer_and_resource(client, support, events, customer_a, customer_b):
    client.force_login(support)
    listed = rows(client.get(f"{AUDIT}?customer={customer_b.pk}"))
    assert "billing.ledger.top_up" in listed and "inventory.assign" not in listed
    listed = rows(client.get(f"{AUDIT}?resource={events.pk}"))
    assert "inventory.assign" in listed and "billing.ledger.top_up" not in listed


def test_it_finds_a_customer_by_part_of_its_name(client, support, events):
    client.force_login(support)
    listed = rows(client.get(f"{AUDIT}?customer=sneaker"))
    assert "billing.ledger.top_up" in listed and "inventory.assign" not in listed
    assert "Nothing recorded matches." in rows(client.get(f"{AUDIT}?customer={'9' * 40}"))


def test_it_filters_by_time(client, support, events):
    old = audit.record(action="billing.product.update", data={})
    AuditEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=40))
    client.force_login(support)
    today = timezone.localdate()
    listed = rows(client.get(f"{AUDIT}?since={today - dt.timedelta(days=1)}&until={today}"))
    assert "inventory.assign" in listed and "billing.product.update" not in listed
    month_ago = today - dt.timedelta(days=40)
    listed = rows(client.get(f"{AUDIT}?since={month_ago}&until={month_ago}"))
    assert "billing.product.update" in listed and "inventory.assign" not in listed


def test_a_backwards_range_says_so(client, support, events):
    client.force_login(support)
    response = client.get(f"{AUDIT}?since=2026-05-02&until=2026-05-01")
    assert "The start date is after the end date." in response.content.decode()
    assert "inventory.assign" in rows(response)  # the filter is not applied


def test_nonsense_filters_and_cursors_never_break_the_page(client, support, events):
    client.force_login(support)
    for query in (
        "resource=abc",
        f"resource={'9' * 40}",
        "customer=999999",
        "since=yesterday",
        "before=nonsense",
        "before=1~2~x",
        "tab=x",
        "tab=changes&customer=x&model=nope",
    ):
        assert client.get(f"{AUDIT}?{query}").status_code == 200


def test_it_pages_by_keyset_newest_first_and_new_rows_do_not_shift_pages(client, support):
    for number in range(120):
        audit.record(action=f"test.event_{number:03d}")
    client.force_login(support)
    first = client.get(AUDIT)
    names = re.findall(r"test\.event_(\d{3})", rows(first))
    assert names == [f"{n:03d}" for n in range(119, 69, -1)]
    audit.record(action="test.event_new")  # arrives while staff read page 1
    second = client.get(older_link(first))
    assert re.findall(r"test\.event_(\d{3})", rows(second)) == [f"{n:03d}" for n in range(69, 19, -1)]
    third = client.get(older_link(second))
    assert re.findall(r"test\.event_(\d{3})", rows(third)) == [f"{n:03d}" for n in range(19, -1, -1)]
    assert older_link(third) is None
    assert "← Newest" in third.content.decode()


def test_events_recorded_in_the_same_instant_are_neither_lost_nor_repeated(client, support):
    moment = timezone.now()
    for number in range(60):
        AuditEvent.objects.create(actor_label="system", action=f"test.same_{number:02d}", created_at=moment)
    AuditEvent.objects.filter(action__startswith="test.same_").update(created_at=moment)
    client.force_login(support)
    first = client.get(AUDIT)
    second = client.get(older_link(first))
    seen = re.findall(r"test\.same_(\d{2})", rows(first) + rows(second))
    assert sorted(seen) == [f"{n:02d}" for n in range(60)]


def test_support_never_sees_a_secret_even_in_an_old_unredacted_row(client, support, events):
    AuditEvent.objects.create(actor_label="owner", action="legacy.row", data={"api_key": "sk-live-123", "note": "ok"})
    client.force_login(support)
    page = html.unescape(client.get(AUDIT).content.decode())
    assert "legacy.row" in page and "ok" in page
    assert "sk-live-123" not in page and "hunter2" not in page
    assert "[redacted]" in page


# Admin edits (django-auditlog) -------------------------------------------------------------------


@pytest.fixture
def product(db):
    account = ProviderAccountFactory(kind=PROXY_SHOP)
    return Product.objects.create(
        name="Amsterdam 30 days",
        kind=SHOP_PLAN,
        account=account,
        parameters={"plan_id": "nlams30private"},
        price_cents=2000,
        renewal_price_cents=1800,
    )


def test_a_price_edited_in_the_admin_is_audited_with_its_actor(client, owner, support, product):
    client.force_login(owner)
    response = admin_change(client, product, owner, price_cents=2500)
    assert response.status_code == 302, response.content
    entry = LogEntry.objects.get_for_object(product).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.actor == owner
    assert entry.changes_dict["price_cents"] == ["2000", "2500"]
    client.force_login(support)
    listed = rows(client.get(f"{AUDIT}?tab=changes&model=billing.product"))
    assert "Amsterdam 30 days" in listed and "price_cents: 2000 → 2500" in listed and "owner" in listed


def test_a_role_change_in_the_admin_is_audited(client, owner, support):
    client.force_login(owner)
    response = admin_change(client, support, owner, role="owner")
    assert response.status_code == 302, response.content
    client.force_login(owner)
    listed = rows(client.get(f"{AUDIT}?tab=changes&model=accounts.user"))
    assert "role: support → owner" in listed
    assert "password" not in listed


def test_a_customer_edited_in_the_admin_is_audited_and_found_by_customer(client, owner, customer_a, customer_b):
    client.force_login(owner)
    assert admin_change(client, customer_a, owner, notes="VIP").status_code == 302
    assert admin_change(client, customer_b, owner, notes="late payer").status_code == 302
    listed = rows(client.get(f"{AUDIT}?tab=changes&customer={customer_a.pk}"))
    assert "notes:  → VIP" in listed and "late payer" not in listed


def test_a_provider_secret_changed_in_the_admin_shows_as_changed_never_its_value(client, owner, support):
    account = ProviderAccountFactory(kind=PROXY_SHOP, name="Shop live")
    client.force_login(owner)
    response = admin_change(client, account, owner, secret="brand-new-api-key", username="")
    assert response.status_code == 302, response.content
    assert ProviderAccount.objects.get(pk=account.pk).secret == "brand-new-api-key"
    ciphertext = ProviderAccount.objects.get(pk=account.pk).secret_encrypted
    entry = LogEntry.objects.get_for_object(account).get(action=LogEntry.Action.UPDATE, actor=owner)
    assert "brand-new-api-key" not in str(entry.changes) and ciphertext[-20:] not in str(entry.changes)
    for who in (support, owner):
        client.force_login(who)
        page = html.unescape(client.get(f"{AUDIT}?tab=changes&model=providers.provideraccount").content.decode())
        assert "Shop live" in page and "secret_encrypted" in page
        assert "brand-new-api-key" not in page and ciphertext[-20:] not in page


def test_the_changes_tab_filters_by_actor(client, owner, product):
    client.force_login(owner)
    admin_change(client, product, owner, price_cents=2100)
    assert "Amsterdam 30 days" in rows(client.get(f"{AUDIT}?tab=changes&actor=owner"))
    assert "Amsterdam 30 days" not in rows(client.get(f"{AUDIT}?tab=changes&actor=support"))
    # The product was created in the test, not by a person: "system".
    assert "Amsterdam 30 days" in rows(client.get(f"{AUDIT}?tab=changes&actor=system"))
