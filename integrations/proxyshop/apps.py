from __future__ import annotations

from django.apps import AppConfig


class ProxyShopConfig(AppConfig):
    name = "integrations.proxyshop"
    label = "proxyshop"
    verbose_name = "Proxy shop"

    def ready(self) -> None:
        from integrations.proxyshop.integration import ProxyShop
        from providers import registry

        registry.register(ProxyShop())
