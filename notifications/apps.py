from __future__ import annotations

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from providers import registry

        # The Telegram Bot API twin is served by the sandbox beside the others; named by path so production
        # never imports the sandbox's web toolkit.
        registry.register_sandbox_twin("notifications.sandbox.TelegramTwin")
