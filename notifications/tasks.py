"""Thin Celery tasks: one delivery (retried with a growing wait), the sweep of lost ones, polling the bot."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from notifications import services
from notifications.telegram import TelegramError

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="notifications.deliver", max_retries=services.MAX_ATTEMPTS, ignore_result=True)
def deliver(self, delivery_id: int) -> None:
    """Send one delivery; while it may still succeed, try again later (the attempts are logged on it)."""
    if services.delivery_attempt(delivery_id=delivery_id) is False:
        raise self.retry(countdown=services.retry_countdown(self.request.retries + 1))


@shared_task(name="notifications.poll_telegram", ignore_result=True)
def poll_telegram() -> int:
    """The bot's new messages (Start with a link code); nothing to do without a bot token."""
    if not settings.TELEGRAM_BOT_TOKEN:
        return 0
    try:
        return services.telegram_updates_poll()
    except TelegramError as exc:
        # Telegram (or the way to it) is down: the next poll, seconds away, asks again; nothing is lost, since
        # updates stay with Telegram until an offset confirms them. One line, not a traceback every poll.
        logger.warning("telegram: could not read the bot's updates: %s", exc)
        return 0


@shared_task(name="notifications.requeue_lost_deliveries", ignore_result=True)
def requeue_lost_deliveries() -> int:
    return services.deliveries_requeue()
