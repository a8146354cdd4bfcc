"""Celery tasks that keep the inventory mirror fresh: beat fans out one sync per enabled provider account."""

from __future__ import annotations

import random

from celery import shared_task

from inventory import bulk, sync, usage
from inventory.models import BulkJob
from providers.http import errors
from providers.models import ProviderAccount

MAX_RETRIES = 5
BACKOFF_BASE_SECONDS = 30.0
BACKOFF_MAX_SECONDS = 15 * 60.0
# A Retry-After longer than this is cut to it: the broker's visibility timeout (settings) must outlast every
# countdown, or Redis hands the waiting retry to a second worker.
RETRY_COUNTDOWN_MAX_SECONDS = 3600.0


def backoff_seconds(retries: int) -> float:
    """30 s, 60 s, 120 s, ... (capped), plus up to a quarter more so many accounts do not retry in step."""
    delay = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2**retries)
    return delay + random.uniform(0, delay / 4)


@shared_task(name="inventory.sync_all_accounts", ignore_result=True)
def sync_all_accounts() -> list[int]:
    """Queue one `inventory.sync_account` per enabled account; returns the ids queued."""
    account_ids = list(ProviderAccount.objects.filter(enabled=True).order_by("pk").values_list("pk", flat=True))
    for account_id in account_ids:
        sync_account.delay(account_id)
    return account_ids


@shared_task(bind=True, name="inventory.sync_account", max_retries=MAX_RETRIES, ignore_result=True)
def sync_account(self, account_id: int) -> str | None:
    """Sync one account; a missing or disabled account is skipped quietly. Returns the run's outcome."""
    account = ProviderAccount.objects.filter(pk=account_id, enabled=True).first()
    if account is None:
        return None
    try:
        run = sync.sync_account(account=account)
    except errors.RateLimitedError as exc:
        countdown = exc.retry_after if exc.retry_after is not None else backoff_seconds(self.request.retries)
        raise self.retry(exc=exc, countdown=min(countdown, RETRY_COUNTDOWN_MAX_SECONDS)) from exc
    except errors.UnavailableError as exc:
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc
    return run.outcome


@shared_task(name="inventory.downsample_usage", ignore_result=True)
def downsample_usage() -> dict[str, int]:
    """Fold and prune the usage history (hourly); returns how many samples each step removed."""
    return usage.usage_downsample()


@shared_task(name="inventory.run_bulk_job", ignore_result=True)
def run_bulk_job(job_id: int) -> None:
    """Run a staff bulk job's rows for a while, then queue the rest again (a task has a time limit)."""
    job = BulkJob.objects.filter(pk=job_id, finished_at__isnull=True).select_related("actor", "customer").first()
    if job is not None and not bulk.bulk_job_run(job=job):
        run_bulk_job.delay(job_id)
