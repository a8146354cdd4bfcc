"""iProxy as the core sees it: our phones (connections) and the proxy accesses on them that customers hold."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.selectors import renewal_product_for
from integrations.iproxy import actions, drift, foresight, fulfilment, mirror, rules, traffic
from integrations.iproxy import client as iproxy
from integrations.iproxy.kinds import IPROXY, IPROXY_ACCESS, IPROXY_CONNECTION, IPROXY_PORT
from inventory.presenters import dig
from providers import registry
from providers.http import errors
from providers.http.parsing import Reader
from providers.registry import CheckResult, Credential, Endpoint, ProductKind, ResourceKind, UpcomingCost

# The demo shop's port capacity on each sandbox phone.
DEMO_PORTS_PER_PHONE = 5


class IProxy(registry.Integration):
    kind = IPROXY
    label = "iProxy.online"
    default_base_url = "https://iproxy.online/api/console/v1"
    has_balance = True
    rotatable_key = True
    console_name = "iProxy"
    resource_kinds = (
        ResourceKind(IPROXY_CONNECTION, "iProxy connection", sold=False, alerts_offline=True),
        ResourceKind(IPROXY_ACCESS, "iProxy proxy access"),
    )
    product_kinds = (
        # A port costs nothing upstream by itself: its phone's plan does (`upstream_costs_ahead`).
        ProductKind(
            IPROXY_PORT,
            "A port on one of our phones (iProxy)",
            resource_kind=IPROXY_ACCESS,
            renewal_spends_balance=False,
        ),
    )
    fulfilment = fulfilment
    drift = drift
    # Action links and connection API keys work without our console key: they are ours, never shown.
    hidden_upstream_keys = frozenset({"api_key", "apiKey", "link"})
    sandbox_path = "/iproxy/api/console/v1"
    staff_panel_template = "iproxy/staff_panel.html"
    portal_panel_template = "iproxy/portal_panel.html"
    account_panel_template = "iproxy/account_panel.html"

    def client(self, account, **options) -> iproxy.Client:
        return iproxy.Client(account.base_url, account.secret, **options)

    def check(self, client: iproxy.Client) -> CheckResult:
        me = client.me()
        return CheckResult(f"Connected as {me.username}; balance {me.balance}.", balance_cents=me.balance_cents)

    def balance_cents(self, client: iproxy.Client) -> int | None:
        return client.me().balance_cents

    def rotate_key(self, client: iproxy.Client) -> str:
        return client.new_api_key().api_key

    def read(self, client, now):
        return mirror.read_rows(client, now)

    reads_usage_apart = True

    def read_usage(self, client, rows, *, read_until, now):
        """The phones' and accesses' traffic, per closed hour (iProxy keeps no running total)."""
        return traffic.read_traffic(client, rows, read_until=read_until, now=now)

    def details(self, resource) -> iproxy.Connection | iproxy.ProxyAccess | None:
        parse = iproxy.ProxyAccess if resource.kind == IPROXY_ACCESS else iproxy.Connection
        try:
            return parse.parse(Reader(resource.upstream, provider=iproxy.PROVIDER, operation="mirror"))
        except errors.MalformedResponseError:
            return None

    def offline_since(self, resource) -> dt.datetime | None:
        """Connection control 12's `last_online_status_update`, which the sync keeps on the connection."""
        value = (resource.upstream or {}).get("last_online_status_update")
        moment = parse_datetime(value) if isinstance(value, str) else None
        if moment is None or moment.year == 1:  # iProxy's zero time means "never"
            return None
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment, dt.UTC)

    def credentials(self, resource) -> list[Credential]:
        data = resource.upstream or {}
        if resource.kind == IPROXY_ACCESS:
            return [
                Credential("Protocol", dig(data, "listen_service")),
                Credential("Host", f"{dig(data, 'hostname')}:{dig(data, 'port')}"),
                Credential("IP", f"{dig(data, 'ip')}:{dig(data, 'port')}"),
                Credential("Login", dig(data, "auth", "login")),
                Credential("Password", dig(data, "auth", "password"), secret=True),
            ]
        geo = dig(data, "basic_info", "server_geo", default={})
        return [
            Credential("Phone", dig(data, "app_data", "device_info", "model") or "not reported"),
            Credential("Server", f"{dig(geo, 'country')}/{dig(geo, 'city')}".upper()),
        ]

    def endpoints(self, resource) -> list[Endpoint]:
        if resource.kind != IPROXY_ACCESS:
            return []
        data = resource.upstream or {}
        port = str(dig(data, "port"))
        if not dig(data, "hostname") or not port.isdigit():
            return []
        scheme = "socks5" if "socks" in str(dig(data, "listen_service")) else "http"
        if dig(data, "auth_type") == "noauth":
            return [Endpoint(dig(data, "hostname"), int(port), schemes=(scheme,))]
        login, password = dig(data, "auth", "login"), dig(data, "auth", "password")
        return [Endpoint(dig(data, "hostname"), int(port), login, password, (scheme,))]

    def refresh(self, resource, actor):
        return actions.resource_refresh(resource=resource, actor=actor)

    def extend_refusal(self, resource) -> str:
        if resource.kind != IPROXY_CONNECTION:
            return "a proxy access follows its phone: extend the phone's plan"
        return ""

    def extend(self, resource, actor):
        return actions.connection_prolongate(connection=resource, days=actions.PLAN_DAYS, actor=actor)

    def upstream_costs_ahead(self, account, start, end) -> list[UpcomingCost]:
        return foresight.plan_costs_ahead(account, start, end)

    def serving_until(self, resource) -> dt.datetime | None:
        return foresight.serving_until(resource)

    def align_refusal(self, resource) -> str:
        return foresight.align_refusal(resource)

    def align(self, resource, actor):
        return foresight.align(resource, actor)

    def staff_urlpatterns(self) -> list:
        from integrations.iproxy import urls

        return urls.staff_urlpatterns

    def portal_urlpatterns(self) -> list:
        from integrations.iproxy import urls

        return urls.portal_urlpatterns

    def self_service_actions(self) -> list:
        from integrations.iproxy import api_actions

        return api_actions.self_service_actions()

    def product_fields(self) -> dict:
        return {
            "country": forms.CharField(
                max_length=2, required=False, help_text="iProxy port: 2-letter code of the phones' country; empty: any."
            ),
            "city": forms.CharField(max_length=40, required=False, help_text="iProxy port: city code, e.g. waw."),
            "days": forms.IntegerField(
                min_value=1,
                max_value=fulfilment.MAX_DAYS,
                required=False,
                help_text="iProxy port: days a purchase gives and a renewal adds.",
            ),
            "listen_service": forms.ChoiceField(
                choices=[("", "—"), *((s, s) for s in rules.LISTEN_SERVICES)],
                required=False,
                label="Protocol",
                help_text="iProxy port: http or socks5.",
            ),
        }

    def product_parameters(self, product_kind, data):
        country = (data.get("country") or "").strip().lower()
        city = (data.get("city") or "").strip().lower()
        problems = {}
        if country and not (len(country) == 2 and country.isalpha()):
            problems["country"] = "A 2-letter country code, e.g. pl."
        if city and not country:
            problems["city"] = "Give the country of this city too."
        if not data.get("days"):
            problems["days"] = "iProxy ports need a number of days."
        if not data.get("listen_service"):
            problems["listen_service"] = "Choose http or socks5."
        parameters = {
            "country": country,
            "city": city,
            "days": data.get("days"),
            "listen_service": data.get("listen_service") or "",
        }
        return parameters, problems

    def product_summary(self, product) -> str:
        country, city = fulfilment.product_place(product)
        where = "/".join(part.upper() for part in (country, city) if part) or "any location"
        protocol = fulfilment.product_listen_service(product)
        return f"{protocol} port on a mobile phone in {where} for {fulfilment.product_days(product)} days"

    def purchasable(self, product, now) -> str:
        return fulfilment.refusal(product, now)

    def renewable(self, resource, now) -> str:
        if resource.kind != IPROXY_ACCESS:
            return "Only proxy accesses on our phones are renewed here."
        product = renewal_product_for(resource=resource)
        return fulfilment.renewal_refusal(resource, product, now) if product is not None else ""

    def simulator(self):
        from integrations.iproxy.sandbox import IProxySim

        return IProxySim

    def demo_accounts(self) -> list[dict]:
        return [{"name": "Sandbox iProxy", "secret": "sandbox-key"}]

    def demo_products(self) -> list[dict]:
        return [
            {
                "name": "Mobile proxy port, Poland, 14 days",
                "kind": IPROXY_PORT,
                "parameters": {"country": "pl", "city": "waw", "days": 14, "listen_service": "http"},
                "price_cents": 2900,
                "renewal_price_cents": 2500,
                "description": "An http port on one of our phones in Warsaw; a renewal adds 14 days.",
            }
        ]

    def demo_prepare(self, account) -> None:
        """The demo shop sells ports on the sandbox's phones: five per phone, unless staff set otherwise. Each
        phone's plan price is the sandbox catalog's (iProxy's API publishes none), so the demo runway has figures."""
        from integrations.iproxy.models import PhoneCapacity
        from integrations.iproxy.sandbox.state import PLANS

        for phone in account.resources.filter(kind=IPROXY_CONNECTION):
            plan = phone.details.active_plan if phone.details is not None else None
            price = PLANS[plan.id]["price_cents"] if plan is not None and plan.id in PLANS else None
            capacity, _ = PhoneCapacity.objects.get_or_create(
                connection=phone, defaults={"max_ports": DEMO_PORTS_PER_PHONE, "plan_price_cents": price}
            )
            if capacity.plan_price_cents is None and price is not None:
                PhoneCapacity.objects.filter(pk=capacity.pk).update(plan_price_cents=price)

    def demo_assignments(self) -> dict[str, list[str]]:
        return {"alice@example.com": ["mMBDwDg2e3"], "bob@example.com": ["sga5YAuhQw"]}
