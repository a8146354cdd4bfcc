"""Selling a port on one of our phones: the phone chosen, the plan must cover the period, no charge without room."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from billing import services
from billing.models import LedgerEntry, Order, OrderKind, OrderState, Product
from integrations.iproxy import actions as iproxy_actions
from integrations.iproxy import fulfilment
from integrations.iproxy.kinds import IPROXY, IPROXY_ACCESS, IPROXY_CONNECTION, IPROXY_PORT
from inventory.models import Alert, Resource, ResourceStatus
from inventory.sync import sync_account
from ops.models import AuditEvent
from providers import registry
from providers.registry import client_for_account
from tests.support.accounts import synced_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(sandbox):
    return synced_account(IPROXY, name="iProxy sandbox")


@pytest.fixture
def upstream(account):
    return client_for_account(account)


@pytest.fixture
def warsaw(account):
    """Online, plan basic30 with 20 days left, two proxy accesses open already."""
    return Resource.objects.get(account=account, kind=IPROXY_CONNECTION, label="online with plan")


@pytest.fixture
def second_warsaw(account, upstream, sandbox):
    """A second phone in Warsaw, online, on a fresh 30-day plan, no accesses yet."""
    created = upstream.create_connection(name="Warsaw 2", country="pl", city="waw")
    upstream.change_plan(created.id, plan_id="basic30", active_plan=None)
    sandbox.control("connection-status", {"connection_id": created.id, "online_status": "online"})
    assert sync_account(account=account).outcome == "ok"
    return Resource.objects.get(account=account, kind=IPROXY_CONNECTION, upstream_id=created.id)


def _product(account, days: int, **parameters) -> Product:
    return Product.objects.create(
        name=f"Warsaw port, {days} days",
        kind=IPROXY_PORT,
        account=account,
        parameters={"country": "pl", "city": "waw", "days": days, "listen_service": "socks5", **parameters},
        price_cents=1000,
        renewal_price_cents=900,
    )


def _capacity(phone: Resource, ports: int) -> None:
    iproxy_actions.phone_capacity_set(connection=phone, max_ports=ports, actor=None)


def _buy(customer, product, key="buy-1", actor=None):
    return services.order_place(customer=customer, product=product, idempotency_key=key, actor=actor)


def _ledger(customer) -> list[str]:
    return sorted(LedgerEntry.objects.filter(customer=customer).values_list("kind", flat=True))


def test_it_sells_a_port_on_the_emptiest_phone_whose_plan_covers_the_period(
    funded, alice, account, upstream, warsaw, second_warsaw, sandbox
):
    _capacity(warsaw, 3)  # two open: one free
    _capacity(second_warsaw, 5)  # none open: five free
    product = _product(account, 10)
    order = _buy(funded, product, actor=alice)

    assert order.state == OrderState.FULFILLED
    access = order.resource
    assert access.kind == IPROXY_ACCESS and access.customer == funded and access.parent == second_warsaw
    assert services.customer_balance(customer=funded) == 4000
    there = next(a for a in upstream.list_proxy_accesses(second_warsaw.upstream_id) if a.id == access.upstream_id)
    assert there.listen_service == "socks5" and there.auth_type == "userpass" and there.auth.password
    assert there.description == f"reseller order {order.pk}"
    expected = order.created_at + dt.timedelta(days=10)
    assert abs((there.expires_at - expected).total_seconds()) < 60
    assert access.expires_at == there.expires_at
    # The shop sent no credentials: iProxy made them, and the order keeps none.
    (create,) = sandbox.calls("POST", "/proxy-access")
    assert b'"auth":' not in create.request.body and "password" not in str(order.request)
    assert order.request["connection"] == second_warsaw.upstream_id


def test_the_next_port_goes_where_ports_are_left(funded, alice, account, warsaw, second_warsaw):
    _capacity(warsaw, 3)
    _capacity(second_warsaw, 1)
    product = _product(account, 10)
    first = _buy(funded, product, "a", alice)
    second = _buy(funded, product, "b", alice)
    # One free port each: the tie goes to the phone paid for longest, then the other one.
    assert {first.resource.parent, second.resource.parent} == {warsaw, second_warsaw}
    assert first.resource.parent == second_warsaw
    refused = pytest.raises(services.NotForSale)
    with refused:
        _buy(funded, product, "c", alice)


def test_a_phone_whose_plan_ends_before_the_paid_period_is_not_used(funded, alice, account, warsaw, sandbox):
    _capacity(warsaw, 5)
    product = _product(account, 30)  # the phone's plan has 20 days left
    with pytest.raises(services.NotForSale, match="no free port for this product right now, so nothing was charged"):
        _buy(funded, product, actor=alice)
    assert _ledger(funded) == ["top_up"] and not Order.objects.exists()
    assert sandbox.calls("POST", "/proxy-access") == []
    alert = Alert.objects.get(kind=Alert.Kind.OUT_OF_STOCK)
    assert "no phone whose plan covers the paid period" in alert.message and alert.customer is None
    assert "Prolong a phone's plan" in alert.message

    iproxy_actions.connection_prolongate(connection=warsaw, days=30, actor=None)
    order = _buy(funded, product, "after-prolonging", alice)
    assert order.state == OrderState.FULFILLED and order.resource.parent == warsaw


def test_without_capacity_nothing_is_charged_and_staff_are_alerted_once_a_day(
    funded, alice, account, warsaw, sandbox, mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.ALERT_STAFF_EMAILS = ["ops@example.com"]
    product = _product(account, 10)  # no phone has a capacity set
    for key in ("a", "b"):
        # The alert is sent by a worker once the refusal commits, never inside the customer's request.
        sent = len(mailoutbox)
        with django_capture_on_commit_callbacks() as queued, pytest.raises(services.NotForSale) as refused:
            _buy(funded, product, key, alice)
        assert len(mailoutbox) == sent
        for deliver in queued:
            deliver()
    assert "nothing was charged" in str(refused.value)
    assert _ledger(funded) == ["top_up"] and not Order.objects.exists()
    assert [c for c in sandbox.calls() if c.request.method != "GET"] == []
    (alert,) = Alert.objects.filter(kind=Alert.Kind.OUT_OF_STOCK)
    assert "no free port in PL/WAW" in alert.message
    (mail,) = mailoutbox
    assert mail.to == ["ops@example.com"] and "out of stock" in mail.subject


def test_phones_offline_or_elsewhere_are_not_used(funded, alice, account, warsaw, sandbox):
    offline = Resource.objects.get(account=account, kind=IPROXY_CONNECTION, label="offline with plan")
    _capacity(offline, 5)  # US, and offline
    _capacity(warsaw, 5)
    with pytest.raises(services.NotForSale):
        _buy(funded, _product(account, 5, country="us", city="nyc"), actor=alice)
    sandbox.control("connection-status", {"connection_id": warsaw.upstream_id, "online_status": "offline"})
    sync_account(account=account)
    with pytest.raises(services.NotForSale):
        _buy(funded, _product(account, 5), "warsaw-offline", alice)


def test_a_product_for_any_location_takes_any_phone(funded, alice, account, warsaw):
    _capacity(warsaw, 3)
    order = _buy(funded, _product(account, 5, country="", city=""), actor=alice)
    assert order.state == OrderState.FULFILLED and order.resource.parent == warsaw


def test_an_order_in_flight_holds_its_port(funded, customer_b, alice, account, warsaw):
    _capacity(warsaw, 3)  # two open, one free
    product = _product(account, 5)
    Order.objects.create(
        customer=customer_b,
        product=product,
        price_cents=1000,
        idempotency_key="in-flight",
        state=OrderState.UNKNOWN,
        request={"connection": warsaw.upstream_id, "description": "reseller order 0"},
    )
    with pytest.raises(services.NotForSale):
        _buy(funded, product, actor=alice)


def test_capacity_taken_between_the_check_and_the_placement_refunds(funded, alice, account, warsaw, monkeypatch):
    _capacity(warsaw, 3)
    product = _product(account, 5)
    # The shelf empties after the check (another order took the port): prepare refuses, the charge is refunded.
    monkeypatch.setattr(type(registry.get(IPROXY)), "purchasable", lambda self, product, now: "")
    _capacity(warsaw, 2)
    order = _buy(funded, product, actor=alice)
    assert order.state == OrderState.FAILED and order.error_code == "sold_out"
    assert _ledger(funded) == ["purchase", "refund", "top_up"]
    assert services.customer_balance(customer=funded) == 5000


def test_renewal_moves_the_expiry_by_the_products_days(funded, alice, account, upstream, warsaw):
    _capacity(warsaw, 3)
    iproxy_actions.connection_prolongate(connection=warsaw, days=30, actor=None)
    product = _product(account, 10)
    access = _buy(funded, product, actor=alice).resource
    before = access.expires_at
    order = services.order_renew(customer=funded, resource=access, idempotency_key="renew-1", actor=alice)
    assert order.state == OrderState.FULFILLED and order.kind == OrderKind.RENEWAL
    access.refresh_from_db()
    assert access.expires_at == before + dt.timedelta(days=10)
    there = next(a for a in upstream.list_proxy_accesses(warsaw.upstream_id) if a.id == access.upstream_id)
    assert there.expires_at == access.expires_at
    assert access.parent == warsaw and access.customer == funded
    assert _ledger(funded) == ["purchase", "renewal", "top_up"]


def test_a_renewal_past_the_phones_plan_is_refused_before_the_charge(funded, alice, account, warsaw):
    _capacity(warsaw, 3)
    product = _product(account, 15)  # 15 of the plan's 20 days left: bought, but a renewal would pass its end
    access = _buy(funded, product, actor=alice).resource
    with pytest.raises(services.NotRenewable, match="cannot be renewed for that long"):
        services.order_renew(customer=funded, resource=access, idempotency_key="renew-1", actor=alice)
    assert _ledger(funded) == ["purchase", "top_up"]
    assert Alert.objects.filter(kind=Alert.Kind.OUT_OF_STOCK).exists()


def test_a_lost_purchase_is_found_by_reconciliation(funded, alice, account, warsaw, sandbox):
    _capacity(warsaw, 3)
    sandbox.control(
        "faults",
        {"rules": [{"provider": "iproxy", "match": "POST /connections/", "kind": "lost_response", "times": 1}]},
    )
    order = _buy(funded, _product(account, 5), actor=alice)
    assert order.state == OrderState.UNKNOWN
    settled = services.order_reconcile(order=order)
    assert settled.state == OrderState.FULFILLED
    assert settled.resource.customer == funded and settled.resource.parent == warsaw


def test_a_purchase_never_made_is_refunded_by_reconciliation(funded, alice, account, warsaw, sandbox):
    _capacity(warsaw, 3)
    sandbox.control(
        "faults", {"rules": [{"provider": "iproxy", "match": "POST /connections/", "kind": "timeout", "times": 1}]}
    )
    order = _buy(funded, _product(account, 5), actor=alice)
    if order.state != OrderState.UNKNOWN:
        pytest.fail(f"a timeout should leave the order unknown, not {order.state}")
    settled = services.order_reconcile(order=order)
    assert settled.state == OrderState.FAILED and settled.error_code == "not_found_upstream"


def test_the_bought_port_shows_in_the_portal_with_its_credentials(client, funded, alice, account, upstream, warsaw):
    _capacity(warsaw, 3)
    access = _buy(funded, _product(account, 5), actor=alice).resource
    client.force_login(alice)
    page = client.get(f"/portal/proxies/{access.pk}/").content.decode()
    there = next(a for a in upstream.list_proxy_accesses(warsaw.upstream_id) if a.id == access.upstream_id)
    assert there.auth.login in page and there.auth.password in page and "Change IP now" in page
    export = b"".join(client.get("/portal/proxies/export.txt").streaming_content).decode()
    assert f"{there.hostname}:{there.port}:{there.auth.login}:{there.auth.password}" in export


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"country": "pol", "days": 30, "listen_service": "http"}, "country"),
        ({"city": "waw", "days": 30, "listen_service": "http"}, "city"),
        ({"country": "pl", "listen_service": "http"}, "days"),
        ({"country": "pl", "days": 30}, "listen_service"),
    ],
)
def test_the_product_form_checks_the_parameters(data, field):
    _, problems = registry.get(IPROXY).product_parameters(IPROXY_PORT, data)
    assert field in problems


def test_the_product_summary_says_what_is_sold(account):
    assert registry.get(IPROXY).product_summary(_product(account, 30)) == (
        "socks5 port on a mobile phone in PL/WAW for 30 days"
    )


def test_only_active_phones_are_candidates(account, warsaw):
    Resource.objects.filter(pk=warsaw.pk).update(status=ResourceStatus.VANISHED, vanished_at=timezone.now())
    _capacity(warsaw, 3)
    assert registry.get(IPROXY).purchasable(_product(account, 5), timezone.now())


def test_the_demo_shop_sells_ports_on_the_sandbox_phones(funded, alice, account, warsaw):
    integration = registry.get(IPROXY)
    integration.demo_prepare(account)
    product = Product.objects.create(account=account, **integration.demo_products()[0])
    order = _buy(funded, product, actor=alice)
    assert order.state == OrderState.FULFILLED and order.resource.parent == warsaw


def test_a_customer_switches_their_port_to_an_ip_allow_list_and_back(client, funded, alice, account, upstream, warsaw):
    _capacity(warsaw, 3)
    access = _buy(funded, _product(account, 5), actor=alice).resource
    client.force_login(alice)
    address = f"/portal/proxies/{access.pk}/iproxy/connection/"
    response = client.post(address, {"listen_service": "http", "allowed_ips": "203.0.113.5, 203.0.113.6"}, follow=True)
    assert "only the IPs you listed" in next(str(m) for m in response.context["messages"])
    there = next(a for a in upstream.list_proxy_accesses(warsaw.upstream_id) if a.id == access.upstream_id)
    assert there.listen_service == "http" and there.auth_type == "noauth"
    assert there.acl_inbound_ips == ("203.0.113.5", "203.0.113.6")
    response = client.post(address, {"listen_service": "http", "allowed_ips": ""}, follow=True)
    there = next(a for a in upstream.list_proxy_accesses(warsaw.upstream_id) if a.id == access.upstream_id)
    assert there.auth_type == "userpass" and there.auth.password and there.acl_inbound_ips == ()
    assert there.auth.password in response.content.decode()
    events = AuditEvent.objects.filter(action="iproxy.access.connection_mode", customer=funded)
    assert events.count() == 2 and there.auth.password not in json.dumps([e.data for e in events])


@pytest.mark.parametrize(
    "posted", [{"listen_service": "ftp"}, {"listen_service": "http", "allowed_ips": "not-an-ip"}, {}]
)
def test_a_bad_connection_choice_is_refused_and_nothing_sent(client, funded, alice, account, warsaw, sandbox, posted):
    _capacity(warsaw, 3)
    access = _buy(funded, _product(account, 5), actor=alice).resource
    before = len(sandbox.calls("POST"))
    client.force_login(alice)
    response = client.post(f"/portal/proxies/{access.pk}/iproxy/connection/", posted, follow=True)
    assert response.status_code == 200 and [m.level_tag for m in response.context["messages"]] == ["error"]
    assert len(sandbox.calls("POST")) == before


def test_a_customer_may_not_change_another_customers_port(client, funded, alice, bob, account, warsaw, sandbox):
    _capacity(warsaw, 3)
    access = _buy(funded, _product(account, 5), actor=alice).resource
    client.force_login(bob)
    response = client.post(f"/portal/proxies/{access.pk}/iproxy/connection/", {"listen_service": "http"})
    assert response.status_code == 404


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_buyers_racing_for_the_last_port_get_it_once(
    sandbox, customer_a, customer_b, owner, account, warsaw, monkeypatch
):
    """Real threads on PostgreSQL (make test): the placement lock lets one order take the last free port."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    _capacity(warsaw, 3)  # two open, one free
    product = _product(account, 5)
    for customer in (customer_a, customer_b):
        services.balance_top_up(customer=customer, amount_cents=5000, actor=owner)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    # Both placements are held right after counting the free ports: without the lock both would see the last
    # one free and take it. With it the second waits for the first, so the meeting point times out instead.
    count_free_ports, meet = fulfilment._candidates, threading.Barrier(2, timeout=2)

    def counted_then_held(product, *, exclude_order=None):
        found = count_free_ports(product, exclude_order=exclude_order)
        if exclude_order is not None:  # in prepare, not in the check before the charge
            with contextlib.suppress(threading.BrokenBarrierError):
                meet.wait()
        return found

    monkeypatch.setattr(fulfilment, "_candidates", counted_then_held)

    def worker(customer):
        barrier.wait()
        try:
            outcomes.append(_buy(customer, product, f"race-{customer.pk}").state)
        except services.NotForSale:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(customer,)) for customer in (customer_a, customer_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) in (["failed", "fulfilled"], ["fulfilled", "refused"])
    assert len(sandbox.calls("POST", "/proxy-access")) == 1
    assert warsaw.children.filter(vanished_at__isnull=True).count() == 3
    balances = sorted(services.customer_balance(customer=c) for c in (customer_a, customer_b))
    assert balances == [4000, 5000]
