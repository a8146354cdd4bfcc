from __future__ import annotations

from django.apps import AppConfig


class UnknownProxiesConfig(AppConfig):
    name = "integrations.unknownproxies"
    label = "unknownproxies"
    verbose_name = "Unknown Proxies"

    def ready(self) -> None:
        from integrations.unknownproxies.integration import UnknownProxies
        from providers import registry

        registry.register(UnknownProxies())
