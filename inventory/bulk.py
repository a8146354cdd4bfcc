"""Staff bulk actions on the inventory: one job over many resources, run row by row by a worker.

Every row goes through the action staff would run on that one resource (assignment, or the integration's
refresh, extend or add-GB action through the registry), so each is audited as if done by hand. A row that
fails records why and the rest go on; the job page shows the progress and the result of every row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from accounts.models import Customer, User
from inventory import assignment, presenters
from inventory.models import BulkItem, BulkJob, Resource, ResourceStatus
from ops import audit
from providers import registry
from providers.http import errors

logger = logging.getLogger(__name__)

# Rows inserted per statement when a job is created over "all matching the filter".
CREATE_CHUNK = 2000
# A worker runs a job this long, then queues the rest as a new task (tasks have a time limit).
RUN_SECONDS = 60.0
# Actions that spend our money upstream: owners only (a bulk multiplies the spend).
SPENDING_ACTIONS = frozenset({BulkJob.Action.EXTEND, BulkJob.Action.ADD_GB})


class Refused(Exception):
    """This row cannot take this action; the message says why (shown as the row's result)."""


def bulk_job_create(
    *,
    action: str,
    actor: User,
    resource_ids: Iterable[int],
    customer: Customer | None = None,
    gb: int | None = None,
    export_format: str = "",
) -> BulkJob:
    """Record a job and one pending row per resource, then queue it for a worker once committed."""
    from inventory import tasks  # tasks import this module

    with transaction.atomic():
        job = BulkJob.objects.create(action=action, actor=actor, customer=customer, gb=gb, export_format=export_format)
        batch: list[BulkItem] = []
        for resource_id in resource_ids:
            batch.append(BulkItem(job=job, resource_id=resource_id))
            if len(batch) >= CREATE_CHUNK:
                BulkItem.objects.bulk_create(batch, ignore_conflicts=True)
                batch = []
        BulkItem.objects.bulk_create(batch, ignore_conflicts=True)
        # The job itself is audited (an export of credentials changes nothing, but who took them matters);
        # each row is audited again by the action it runs.
        audit.record(
            action="inventory.bulk.start",
            actor=actor,
            target=job,
            customer=customer,
            data={
                "action": action,
                "rows": job.items.count(),
                "gb": gb,
                "export_format": export_format or None,
                "customer": customer.name if customer else None,
            },
        )
        transaction.on_commit(lambda: tasks.run_bulk_job.delay(job.pk))
    return job


def bulk_job_run(*, job: BulkJob, seconds: float = RUN_SECONDS) -> bool:
    """Run the job's pending rows for up to `seconds`; True when none are left (the job is finished)."""
    deadline = time.monotonic() + seconds
    pending = job.items.filter(outcome=BulkItem.Outcome.PENDING).select_related(
        "resource__account", "resource__customer"
    )
    while True:
        batch = list(pending.order_by("id")[:50])
        if not batch:
            BulkJob.objects.filter(pk=job.pk, finished_at__isnull=True).update(finished_at=timezone.now())
            return True
        for item in batch:
            _run_item(job, item)
            if time.monotonic() > deadline:
                return False


def _run_item(job: BulkJob, item: BulkItem) -> None:
    try:
        message = _perform(job, item.resource)
        outcome = BulkItem.Outcome.OK
    except (Refused, errors.ProviderError, NotImplementedError) as exc:
        message, outcome = str(exc), BulkItem.Outcome.FAILED
    except Exception as exc:  # one broken row must not stop the others; the log keeps the traceback
        logger.exception("bulk job %s: resource %s failed", job.pk, item.resource_id)
        message, outcome = f"unexpected error: {exc}", BulkItem.Outcome.FAILED
    item.outcome, item.message, item.finished_at = outcome, message[:1000], timezone.now()
    item.save(update_fields=["outcome", "message", "finished_at"])


def _perform(job: BulkJob, resource: Resource) -> str:
    """Do the job's action to one resource and say what happened; raise to fail the row."""
    integration = resource.integration
    actor = job.actor
    if job.action == BulkJob.Action.ASSIGN:
        if job.customer is not None and resource.kind not in registry.sold_resource_kinds():
            raise Refused(f"a {resource.get_kind_display()} stays with staff and cannot be assigned")
        if job.customer is not None and not job.customer.is_active:
            raise Refused(f"{job.customer.name} is suspended")
        assignment.resource_assign(resource=resource, customer=job.customer, actor=actor)
        return f"assigned to {job.customer.name}" if job.customer else "back in stock"
    if job.action == BulkJob.Action.REFRESH:
        refreshed = integration.refresh(resource, actor)
        if getattr(refreshed, "status", None) == ResourceStatus.VANISHED:
            # Upstream no longer lists it: the mirror now says so, and the row reports it rather than "done".
            raise Refused("gone upstream: marked as vanished")
        return "refreshed from upstream"
    if job.action == BulkJob.Action.EXPORT:
        chosen = presenters.EXPORT_FORMATS[job.export_format]
        found = [e for e in presenters.endpoints(resource) if not chosen.scheme or chosen.scheme in e.schemes]
        if not found:
            raise Refused(f"nothing to export as {chosen.label}")
        return f"{len(found)} proxy line{'s' if len(found) != 1 else ''}"
    if job.action == BulkJob.Action.EXTEND:
        refusal = integration.extend_refusal(resource)
        if refusal:
            raise Refused(refusal)
        extended = integration.extend(resource, actor)
        when = getattr(extended, "expires_at", None)
        return f"extended; expires {when:%Y-%m-%d %H:%M}" if when else "extended"
    if job.action == BulkJob.Action.ADD_GB:
        refusal = integration.add_gb_refusal(resource)
        if refusal:
            raise Refused(refusal)
        integration.add_gb(resource, job.gb, actor)
        return f"{job.gb} GB added"
    raise Refused(f"unknown action {job.action!r}")


def job_progress(job: BulkJob) -> dict[str, int]:
    """Rows by outcome, and the total (one grouped count)."""
    counts = dict(job.items.order_by().values_list("outcome").annotate(n=Count("id")))
    progress = {outcome: counts.get(outcome, 0) for outcome in BulkItem.Outcome.values}
    progress["total"] = sum(counts.values())
    progress["done"] = progress["total"] - progress[BulkItem.Outcome.PENDING]
    return progress


def exported_ids(job: BulkJob):
    """What an export job's download holds: the resources that had something to export (a subquery)."""
    return job.items.filter(outcome=BulkItem.Outcome.OK).values("resource_id")
