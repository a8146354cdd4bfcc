from __future__ import annotations

from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Online payments"

    def ready(self) -> None:
        from payments.sandbox import StripeTwin
        from providers.sandbox import core

        # The payment twin is served by the one sandbox, beside the provider simulators.
        core.register_twin(StripeTwin)
