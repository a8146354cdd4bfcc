"""iProxy as the core sees it: our phones (connections) and the proxy accesses on them that customers hold."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations.iproxy import actions, mirror
from integrations.iproxy import client as iproxy
from integrations.iproxy.kinds import IPROXY, IPROXY_ACCESS, IPROXY_CONNECTION
from inventory.presenters import dig
from providers import registry
from providers.http import errors
from providers.http.parsing import Reader
from providers.registry import CheckResult, Credential, Endpoint, ResourceKind


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
    # Action links and connection API keys work without our console key: they are ours, never shown.
    hidden_upstream_keys = frozenset({"api_key", "apiKey", "link"})
    sandbox_path = "/iproxy/api/console/v1"
    staff_panel_template = "iproxy/staff_panel.html"
    portal_panel_template = "iproxy/portal_panel.html"

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

    def staff_urlpatterns(self) -> list:
        from integrations.iproxy import urls

        return urls.staff_urlpatterns

    def portal_urlpatterns(self) -> list:
        from integrations.iproxy import urls

        return urls.portal_urlpatterns

    def simulator(self):
        from integrations.iproxy.sandbox import IProxySim

        return IProxySim

    def demo_accounts(self) -> list[dict]:
        return [{"name": "Sandbox iProxy", "secret": "sandbox-key"}]

    def demo_assignments(self) -> dict[str, list[str]]:
        return {"alice@example.com": ["mMBDwDg2e3"], "bob@example.com": ["sga5YAuhQw"]}
