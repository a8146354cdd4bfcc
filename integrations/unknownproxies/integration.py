"""Unknown Proxies as the core sees it: residential and ISP tokens, sold as residential GB and ISP proxies.

More GB can be bought for any residential token a customer holds (staff-assigned ones too). ISP tokens
have no documented extension call: they are sold for a fixed period, and a replacement purchase is
offered before one ends.
"""

from __future__ import annotations

from django import forms

from integrations.unknownproxies import actions, drift, fulfilment, mirror, rules
from integrations.unknownproxies import client as unknownproxies
from integrations.unknownproxies.kinds import ISP_PROXIES, ISP_TOKEN, RESI_GB, RESI_TOKEN, UNKNOWN_PROXIES
from inventory.presenters import dig
from ops.units import GB
from providers import registry
from providers.http import errors
from providers.registry import CheckResult, Credential, Endpoint, ProductKind, ResourceKind

# Residential traffic goes through the provider's gateway; the token's username/password select it.
RESI_GATEWAY_HOST, RESI_GATEWAY_PORT = "resi.unknownproxies.com", 8080
RESI_GATEWAY = f"{RESI_GATEWAY_HOST}:{RESI_GATEWAY_PORT}"
# One staff "extend" of a residential token with a time limit: 30 more days.
EXTEND_HOURS = 720


def _period(hours: int) -> str:
    return f"{hours // 24} days" if hours and hours % 24 == 0 else f"{hours} hours"


class UnknownProxies(registry.Integration):
    kind = UNKNOWN_PROXIES
    label = "Unknown Proxies"
    default_base_url = "https://api.unknownproxies.com/api/v1"
    uses_username = True
    resource_kinds = (ResourceKind(RESI_TOKEN, "Residential token"), ResourceKind(ISP_TOKEN, "ISP token"))
    product_kinds = (
        ProductKind(
            RESI_GB,
            "Residential traffic (Unknown Proxies)",
            resource_kind=RESI_TOKEN,
            renews_any=True,
            renew_label="Buy more GB",
        ),
        ProductKind(ISP_PROXIES, "ISP proxies (Unknown Proxies)", resource_kind=ISP_TOKEN, renewable=False),
    )
    fulfilment = fulfilment
    drift = drift
    sandbox_path = "/unknownproxies/api/v1"
    staff_panel_template = "unknownproxies/staff_panel.html"
    portal_panel_template = "unknownproxies/portal_panel.html"
    account_panel_template = "unknownproxies/account_panel.html"

    def client(self, account, **options) -> unknownproxies.Client:
        return unknownproxies.Client(account.base_url, account.username, account.secret, **options)

    def check(self, client: unknownproxies.Client) -> CheckResult:
        return CheckResult(f"Connected: {len(client.list_pools())} residential pools.")

    def read(self, client, now):
        return mirror.read_rows(client, now)

    def details(self, resource) -> unknownproxies.ResiToken | unknownproxies.IspToken | None:
        parse = unknownproxies.ResiToken if resource.kind == RESI_TOKEN else unknownproxies.IspToken
        try:
            return parse.from_json(resource.upstream, operation="mirror")
        except errors.MalformedResponseError:
            return None

    def credentials(self, resource) -> list[Credential]:
        data = resource.upstream or {}
        if resource.kind == RESI_TOKEN:
            pools = ", ".join(dig(data, "allowedPools", default=[])) or "all pools"
            return [
                Credential("Gateway", RESI_GATEWAY),
                Credential("Username", dig(data, "username")),
                Credential("Password", dig(data, "password"), secret=True),
                Credential("Pools", pools),
            ]
        rows = [Credential("Protocol", dig(data, "proxyType")), Credential("Authentication", dig(data, "authType"))]
        if dig(data, "authType") == "ip":
            rows.append(Credential("Allowed IPs", ", ".join(dig(data, "authenticatedIps", default=[]))))
        else:
            rows += [
                Credential("Username", dig(data, "username")),
                Credential("Password", dig(data, "password"), secret=True),
            ]
        rows.append(Credential("Proxies", "\n".join(dig(data, "proxies", default=[]))))
        return rows

    def endpoints(self, resource) -> list[Endpoint]:
        data = resource.upstream or {}
        if resource.kind == RESI_TOKEN:
            return [Endpoint(RESI_GATEWAY_HOST, RESI_GATEWAY_PORT, dig(data, "username"), dig(data, "password"))]
        # An ISP token's proxies are "host:port"; ip-whitelisted ones take no sign-in.
        user, password = ("", "") if dig(data, "authType") == "ip" else (dig(data, "username"), dig(data, "password"))
        schemes = ("socks5",) if dig(data, "proxyType") == "socks" else ("http",)
        found = []
        for proxy in dig(data, "proxies", default=[]):
            host, _, port = str(proxy).rpartition(":")
            if host and port.isdigit():
                found.append(Endpoint(host, int(port), user, password, schemes))
        return found

    def refresh(self, resource, actor):
        return actions.token_refresh(resource=resource, actor=actor)

    def extend_refusal(self, resource) -> str:
        if resource.kind != RESI_TOKEN:
            return "ISP tokens have no extension upstream: sell a replacement before expiry"
        token = self.details(resource)
        if token is None:
            return "the mirrored token cannot be read; refresh it first"
        if not token.duration_hours:
            return "this token has no time limit to extend"
        return ""

    def extend(self, resource, actor):
        token = self.details(resource)
        return actions.resi_token_modify(
            resource=resource, actor=actor, duration_hours=token.duration_hours + EXTEND_HOURS
        )

    def add_gb_refusal(self, resource) -> str:
        return "" if resource.kind == RESI_TOKEN else "ISP tokens are sold by proxy, not by GB"

    def add_gb(self, resource, gb, actor):
        return actions.resi_token_modify(
            resource=resource, actor=actor, data_limit=(resource.data_limit_bytes or 0) + gb * GB
        )

    def staff_urlpatterns(self) -> list:
        from integrations.unknownproxies import urls

        return urls.staff_urlpatterns

    def portal_urlpatterns(self) -> list:
        from integrations.unknownproxies import urls

        return urls.portal_urlpatterns

    def self_service_actions(self) -> list:
        from integrations.unknownproxies import api_actions

        return api_actions.self_service_actions()

    def product_fields(self) -> dict:
        return {
            "gb": forms.IntegerField(
                min_value=1, max_value=100_000, required=False, label="GB", help_text="Residential: whole gigabytes."
            ),
            "duration_hours": forms.IntegerField(
                min_value=0,
                max_value=rules.MAX_DURATION_HOURS,
                required=False,
                help_text="Residential: hours of validity (0 = no time limit); a renewal adds as many. "
                "ISP: the fixed period the proxies are sold for.",
            ),
            "isp_region": forms.CharField(max_length=20, required=False, label="ISP region", help_text="e.g. US."),
            "isp_product": forms.CharField(
                max_length=40, required=False, label="ISP product", help_text="The provider's code, e.g. TICK."
            ),
            "isp_quantity": forms.IntegerField(
                min_value=1, max_value=rules.MAX_ISP_QUANTITY, required=False, label="ISP proxies per order"
            ),
            "isp_proxy_type": forms.ChoiceField(
                required=False, label="ISP protocol", choices=[("", "—"), ("http", "HTTP"), ("socks", "SOCKS")]
            ),
            "isp_auth_type": forms.ChoiceField(
                required=False,
                label="ISP authentication",
                choices=[("", "—"), ("user", "Username and password"), ("ip", "Whitelisted IPs")],
            ),
        }

    def product_parameters(self, product_kind, data):
        if product_kind == ISP_PROXIES:
            return fulfilment.isp_parameters(data)
        errors = {} if data.get("gb") else {"gb": "Residential products need a number of GB."}
        return {"gb": data.get("gb"), "duration_hours": data.get("duration_hours") or 0}, errors

    def product_summary(self, product) -> str:
        if product.kind == ISP_PROXIES:
            p = product.parameters
            return (
                f"{p.get('quantity')} ISP proxies in {p.get('region')} ({p.get('product')}, "
                f"{str(p.get('proxy_type', '')).upper()}) for {_period(int(p.get('duration_hours', 0)))}: a fixed "
                "period (the provider cannot extend it); before it ends we offer a replacement to buy"
            )
        hours = fulfilment.product_hours(product)
        validity = f", valid {hours} h" if hours else ", no time limit"
        return f"{fulfilment.product_gb(product)} GB residential traffic{validity}"

    def renewable(self, resource, now) -> str:
        if resource.kind == ISP_TOKEN:
            return "ISP proxies cannot be extended: buy a replacement before these end."
        return ""

    def simulator(self):
        from integrations.unknownproxies.sandbox import UnknownProxiesSim

        return UnknownProxiesSim

    def demo_accounts(self) -> list[dict]:
        return [{"name": "Sandbox Unknown Proxies", "username": "sandbox", "secret": "sandbox-pass"}]

    def demo_products(self) -> list[dict]:
        return [
            {
                "name": "Residential traffic, 10 GB for 30 days",
                "kind": RESI_GB,
                "parameters": {"gb": 10, "duration_hours": 720},
                "price_cents": 3500,
                "renewal_price_cents": 3000,
                "description": "Rotating residential IPs in the US, Canada and the UK.",
            },
            {
                "name": "2 US ISP proxies for 30 days",
                "kind": ISP_PROXIES,
                "parameters": {
                    "region": "US",
                    "product": "TICK",
                    "quantity": 2,
                    "proxy_type": "http",
                    "auth_type": "user",
                    "duration_hours": 720,
                },
                "price_cents": 2400,
                "renewal_price_cents": 2400,
                "description": "Static US ISP proxies, sold for 30 days; buy a replacement before they end.",
            },
        ]

    def demo_assignments(self) -> dict[str, list[str]]:
        return {
            "alice@example.com": ["resiActive01", "resiPools001", "ispActive001"],
            "bob@example.com": ["resiAlmost01", "resiExpData1"],
        }
