"""The Celery tasks that send alerts: beat's check (retry what failed, then look for new warnings), and the
delivery of one alert recorded during a request."""

from __future__ import annotations

from celery import shared_task

from inventory import alerts


@shared_task(name="inventory.check_alerts", ignore_result=True)
def check_alerts() -> dict[str, int]:
    """Retries come first, so an alert that fails in this run's check is not tried twice in one run."""
    retried = alerts.alerts_deliver_pending()
    created = alerts.alerts_check()
    return {"retried": len(retried), "created": len(created)}


@shared_task(name="inventory.deliver_alert", ignore_result=True)
def deliver_alert(alert_id: int) -> bool:
    """Send one alert recorded during a request; one that fails stays pending for `check_alerts` to retry."""
    return alerts.alert_deliver(alert_id=alert_id)
