"""The Celery task beat runs to send alerts: retry what failed before, then look for new warnings."""

from __future__ import annotations

from celery import shared_task

from inventory import alerts


@shared_task(name="inventory.check_alerts", ignore_result=True)
def check_alerts() -> dict[str, int]:
    """Retries come first, so an alert that fails in this run's check is not tried twice in one run."""
    retried = alerts.alerts_deliver_pending()
    created = alerts.alerts_check()
    return {"retried": len(retried), "created": len(created)}
