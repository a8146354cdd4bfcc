"""The proxy shop as the core sees it: subscriptions to mobile/private proxies, sold as plans."""

from __future__ import annotations

from urllib.parse import urlsplit

from django import forms

from integrations.proxyshop import actions, drift, fulfilment, mirror, rules
from integrations.proxyshop import client as proxyshop
from integrations.proxyshop.kinds import PROXY_SHOP, SHOP_PLAN, SHOP_SUBSCRIPTION
from inventory.models import ResourceStatus
from inventory.presenters import dig
from providers import registry
from providers.http import errors
from providers.registry import CheckResult, Credential, Endpoint, ProductKind, ResourceKind

PROTOCOL_LABELS = {"http": "HTTP", "socks5": "SOCKS5", "vless": "VLESS", "shadowsocks": "Shadowsocks"}


class ProxyShop(registry.Integration):
    kind = PROXY_SHOP
    label = "Proxy shop"
    default_base_url = ""  # white-label: every shop has its own domain
    resource_kinds = (ResourceKind(SHOP_SUBSCRIPTION, "Proxy shop subscription"),)
    product_kinds = (ProductKind(SHOP_PLAN, "Proxy shop plan", resource_kind=SHOP_SUBSCRIPTION),)
    # The rotate link works without the API key: it is ours, never shown.
    hidden_upstream_keys = frozenset({"rotatePath", "link"})
    fulfilment = fulfilment
    drift = drift
    sandbox_path = "/shop"
    staff_panel_template = "proxyshop/staff_panel.html"
    portal_panel_template = "proxyshop/portal_panel.html"
    account_panel_template = "proxyshop/account_panel.html"

    def client(self, account, **options) -> proxyshop.Client:
        return proxyshop.Client(account.base_url, account.secret, **options)

    def check(self, client: proxyshop.Client) -> CheckResult:
        return CheckResult(f"Connected: {len(client.plans())} plans on sale.")

    def read(self, client, now):
        return mirror.read_rows(client, now)

    def details(self, resource) -> proxyshop.Subscription | None:
        try:
            return proxyshop.parse_subscription(resource.upstream)
        except errors.MalformedResponseError:
            return None

    def credentials(self, resource) -> list[Credential]:
        data = resource.upstream or {}
        rows = [
            Credential("Network", dig(data, "networkLabel")),
            Credential("Username", dig(data, "credentials", "username")),
            Credential("Password", dig(data, "credentials", "password"), secret=True),
        ]
        for name, label in PROTOCOL_LABELS.items():
            url = dig(data, "protocols", name)
            if url:
                rows.append(Credential(label, url, secret=True))
        return rows

    def endpoints(self, resource) -> list[Endpoint]:
        # One port speaks both HTTP and SOCKS5; the protocol URLs say where it is.
        data = resource.upstream or {}
        where, schemes = None, []
        for scheme in ("http", "socks5"):
            url = dig(data, "protocols", scheme)
            parts = urlsplit(url) if url else None
            try:
                port = parts.port if parts else None
            except ValueError:
                port = None
            if parts and parts.hostname and port:
                where = where or (parts.hostname, port)
                schemes.append(scheme)
        if where is None:
            return []
        username, password = dig(data, "credentials", "username"), dig(data, "credentials", "password")
        return [Endpoint(where[0], where[1], username, password, tuple(schemes))]

    def refresh(self, resource, actor):
        return actions.subscription_refresh(resource=resource, actor=actor)

    def extend_refusal(self, resource) -> str:
        return "a renewal needs a renewal plan chosen: renew it from its page"

    def staff_urlpatterns(self) -> list:
        from integrations.proxyshop import urls

        return urls.staff_urlpatterns

    def portal_urlpatterns(self) -> list:
        from integrations.proxyshop import urls

        return urls.portal_urlpatterns

    def self_service_actions(self) -> list:
        from integrations.proxyshop import api_actions

        return api_actions.self_service_actions()

    def product_fields(self) -> dict:
        return {
            "plan_id": forms.CharField(
                max_length=60, required=False, label="Plan id", help_text="Proxy shop: e.g. nlams30private."
            )
        }

    def product_parameters(self, product_kind, data):
        plan_id = data.get("plan_id") or ""
        violations = rules.id_violations("plan_id", plan_id)
        messages = "; ".join(f"Plan id {violation.message}." for violation in violations)
        return {"plan_id": plan_id}, ({"plan_id": messages} if messages else {})

    def product_summary(self, product) -> str:
        return f"proxy shop plan {fulfilment.product_plan_id(product)}"

    def product_upstream_cost(self, product, client):
        """The plan's price in the shop's catalog (`GET plans`): a purchase and a renewal buy the same plan."""
        plan_id = fulfilment.product_plan_id(product)
        plan = next((plan for plan in client.plans() if plan.id == plan_id), None)
        return None if plan is None else (plan.price_cents, plan.price_cents)

    def renewable(self, resource, now) -> str:
        # README decision: `renew` works on an expired subscription too (from now on); only a gone one cannot.
        if resource.status == ResourceStatus.VANISHED:
            return "This proxy no longer exists at the provider, so it cannot be renewed."
        return ""

    def simulator(self):
        from integrations.proxyshop.sandbox import ProxyShopSim

        return ProxyShopSim

    def demo_accounts(self) -> list[dict]:
        return [{"name": "Sandbox proxy shop", "secret": "rk_sandbox"}]

    def demo_products(self) -> list[dict]:
        return [
            {
                "name": "Amsterdam mobile proxy, 30 days",
                "kind": SHOP_PLAN,
                "parameters": {"plan_id": "nlams30private"},
                "price_cents": 1900,
                "renewal_price_cents": 1900,
                "description": "A private mobile proxy on a Dutch network, with IP rotation.",
            }
        ]

    def demo_assignments(self) -> dict[str, list[str]]:
        return {"alice@example.com": ["subnlrotating"], "bob@example.com": ["subnlexpiring"]}
