"""Account tasks: preparing the demo inventory once the sandbox answers."""

from __future__ import annotations

from celery import shared_task

from demo import inventory as demo
from providers.http import errors


@shared_task(bind=True, name="accounts.prepare_demo_inventory", max_retries=30, ignore_result=True)
def prepare_demo_inventory(self, account_names: list[str]) -> int:
    try:
        return demo.demo_inventory_prepare(account_names=account_names)
    except errors.UnavailableError as exc:
        # `make run` starts the sandbox beside the worker; give it a moment.
        raise self.retry(exc=exc, countdown=2) from exc
