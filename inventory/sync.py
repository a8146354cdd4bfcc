"""Mirroring one provider account: read every upstream list, write the rows that changed, mark what vanished.

The integration reads and maps (`integrations/<kind>/mirror.py`); `inventory.mirror` writes. Neither touches
`customer` (assignment is ours) or `first_seen_at`. All upstream reads happen before the first write, so a
failed read leaves the mirror exactly as it was. The writes go in short chunked transactions (orders settling
meanwhile never wait behind a whole account); a failure halfway leaves the chunks written so far, which are
true upstream facts, and the next sync writes the rest. A row the mirror cannot hold is reported on the run,
never allowed to stop it. Usage that an integration reads apart from its rows (counted per period upstream) is
read with them and written as usage samples only (`inventory.usage`); a failed read of it is reported on the
run, never failing it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inventory import alerts
from inventory.mirror import write_account_rows
from inventory.models import SyncRun
from inventory.usage import usage_read_apart, usage_record_growth
from ops import audit, locks
from providers import crypto, registry
from providers.http import errors
from providers.models import ProviderAccount


def lock_key(account: ProviderAccount) -> str:
    return f"inventory:sync:{account.pk}"


# The service -----------------------------------------------------------------------------------------


def sync_account(*, account: ProviderAccount) -> SyncRun:
    """Mirror one account's upstream resources; returns the SyncRun that records what happened.

    Only one sync per account runs at a time (`ops.locks`, atomic on Redis); a second one records a "skipped" run.
    A provider error is recorded on the run and on the account; RateLimitedError and UnavailableError
    are raised again afterwards so the task can retry later.
    """
    with locks.hold(lock_key(account), timeout=settings.CELERY_TASK_TIME_LIMIT) as acquired:
        if not acquired:
            return SyncRun.objects.create(account=account, outcome=SyncRun.Outcome.SKIPPED, finished_at=timezone.now())
        return _sync_locked(account)


def _sync_locked(account: ProviderAccount) -> SyncRun:
    run = SyncRun.objects.create(account=account)
    now = timezone.now()
    try:
        integration = registry.for_account(account)
        client = integration.client(account)
        rows = integration.read(client, now)
        usage = usage_read_apart(integration=integration, client=client, account=account, rows=rows, now=now)
    except (errors.ProviderError, crypto.SecretUnreadable) as exc:
        _fail(run, account, str(exc))
        if isinstance(exc, errors.RateLimitedError | errors.UnavailableError):
            raise
        return run
    try:
        kinds = [kind.value for kind in integration.resource_kinds]
        counts = write_account_rows(account, kinds, rows, now)
        # Usage read apart from the rows: samples only, so the rows' fingerprints never see it.
        usage_record_growth(account=account, growth=usage.growth)
        for problem in usage.problems:
            counts.report(problem, problem.reason)
        with transaction.atomic():
            run.seen, run.created, run.updated, run.vanished = (
                counts.seen,
                counts.created,
                counts.updated,
                counts.vanished,
            )
            run.unchanged, run.problems, run.problem_count = counts.unchanged, counts.problems, counts.problem_count
            run.outcome, run.finished_at = SyncRun.Outcome.OK, timezone.now()
            run.save()
            _set_last_error(account, problems_summary(run))
            if counts.created or counts.vanished:
                data = {"seen": counts.seen, "created": counts.created, "updated": counts.updated}
                audit.record(
                    action="inventory.sync",
                    target=account,
                    data={"run": run.pk, **data, "vanished": counts.vanished},
                )
    except Exception as exc:
        # The run says so instead of staying "running"; chunks written before the failure stay (they are true).
        _fail(run, account, f"the mirror could not be written: {type(exc).__name__}")
        raise
    if counts.drift_opened:
        alerts.alert_staff_drift(account=account, opened=counts.drift_opened, run_id=run.pk)
    return run


def problems_summary(run: SyncRun) -> str:
    """What staff see on the account when some upstream rows could not be mirrored as they came ("" if none)."""
    if not run.problem_count:
        return ""
    first = run.problems[0]
    rows = "row" if run.problem_count == 1 else "rows"
    return (
        f"{run.problem_count} upstream {rows} could not be mirrored as listed (sync run {run.pk}); "
        f"first: {first['upstream_id']}: {first['reason']}"
    )


def _fail(run: SyncRun, account: ProviderAccount, message: str) -> None:
    run.outcome, run.error, run.finished_at = SyncRun.Outcome.FAILED, message, timezone.now()
    run.save(update_fields=["outcome", "error", "finished_at"])
    _set_last_error(account, message)


def _set_last_error(account: ProviderAccount, message: str) -> None:
    # An update, not save(): the rest of the row may have been changed by staff since it was loaded.
    ProviderAccount.objects.filter(pk=account.pk).update(last_error=message)
    account.last_error = message
