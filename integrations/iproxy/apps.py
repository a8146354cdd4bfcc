from __future__ import annotations

from django.apps import AppConfig


class IProxyConfig(AppConfig):
    name = "integrations.iproxy"
    label = "iproxy"
    verbose_name = "iProxy.online"

    def ready(self) -> None:
        from integrations.iproxy.integration import IProxy
        from providers import registry

        registry.register(IProxy())
