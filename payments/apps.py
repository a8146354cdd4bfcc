from __future__ import annotations

from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Online payments"

    def ready(self) -> None:
        from providers import registry

        # The payment twin is served by the one sandbox, beside the provider simulators. Named by its path:
        # importing it here would pull the sandbox's web toolkit (a development package) into production.
        registry.register_sandbox_twin("payments.sandbox.StripeTwin")
