"""The local mirror of what we hold upstream, who it is assigned to, and the record of each sync."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

from providers import registry

# inventory.alerts marks an alert being sent with this prefix on `delivery_error` (a claim, not a failure).
SENDING_PREFIX = "Sending since "


class ResourceStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PROCESSING = "processing", "Processing"
    EXPIRED = "expired", "Expired"
    OFFLINE = "offline", "Offline"
    VANISHED = "vanished", "Gone upstream"


GIN_PENDING_LIST_KB = 64 * 1024


class Resource(models.Model):
    """One upstream resource: a token, a subscription, a phone connection or a proxy access on it.

    The common facts (status, expiry, usage) are columns so lists, alerts and the portal can filter
    on them; everything else the provider said is kept in `upstream` as it was last seen.
    """

    # No index of their own for `account` and `customer`: the unique constraint and the customer_* list indexes
    # start with them, and every index more is paid by each row a sync writes.
    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.PROTECT, related_name="resources", db_index=False
    )
    kind = models.CharField(max_length=30, choices=registry.resource_kind_choices)
    upstream_id = models.CharField(max_length=200)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    customer = models.ForeignKey(
        "accounts.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="resources", db_index=False
    )
    label = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=ResourceStatus.choices, default=ResourceStatus.ACTIVE)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Ours, never upstream's: the end of the period the customer has paid for (set when an order fulfils),
    # to compare with when upstream stops serving it. None: not sold through an order.
    paid_through = models.DateTimeField(null=True, blank=True)
    data_used_bytes = models.BigIntegerField(null=True, blank=True)
    data_limit_bytes = models.BigIntegerField(null=True, blank=True)
    upstream = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_synced_at = models.DateTimeField(
        null=True, blank=True, help_text="When the mirror last wrote this row (the upstream changed, or an action)."
    )
    vanished_at = models.DateTimeField(null=True, blank=True)
    # A hash of the mapped upstream row as last written by a sync; "" after any other write, so the next sync
    # rewrites it. A sync that maps the same hash skips the row.
    fingerprint = models.CharField(max_length=32, blank=True, editable=False)

    class Meta:
        ordering = ["kind", "label", "id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "upstream_id"], name="one_mirror_per_upstream_resource")
        ]
        indexes = [
            models.Index(fields=["customer", "status"]),
            # One per sort order of the staff and portal lists (`inventory.selectors`): a page is a seek.
            models.Index(fields=["kind", "label", "id"], name="resource_kind_label_seek"),
            models.Index(fields=["label", "id"], name="resource_label_seek"),
            models.Index(fields=["status", "label", "id"], name="resource_status_label_seek"),
            models.Index(fields=["expires_at", "id"], name="resource_expires_seek"),
            models.Index(fields=["customer", "expires_at", "id"], name="resource_customer_expires_seek"),
            models.Index(fields=["customer", "label", "id"], name="resource_customer_label_seek"),
            # Trigram indexes for the staff search (`icontains` is UPPER(col) LIKE UPPER('%q%') on
            # PostgreSQL); created only there (migration 0007), SQLite scans. A sync's new rows wait in
            # a pending list of up to 64 MB that autovacuum merges, instead of the sync merging every 4 MB
            # (a fifth of a first sync's database time); a search reads the pending list meanwhile.
            GinIndex(
                OpClass(Upper("label"), name="gin_trgm_ops"),
                name="resource_label_trgm",
                gin_pending_list_limit=GIN_PENDING_LIST_KB,
            ),
            GinIndex(
                OpClass(Upper("upstream_id"), name="gin_trgm_ops"),
                name="resource_upstream_id_trgm",
                gin_pending_list_limit=GIN_PENDING_LIST_KB,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.label or self.upstream_id}"

    @property
    def integration(self) -> registry.Integration:
        return registry.for_resource_kind(self.kind)

    @property
    def details(self):
        """The mirrored upstream JSON as the integration's typed object (None when it cannot be read)."""
        return self.integration.details(self)

    @property
    def last_seen_at(self):
        """When a sync last saw this resource upstream: the latest successful sync of its account, unless it
        vanished since (rows are written only when they change, so `last_synced_at` alone says less)."""
        if self.vanished_at is not None:
            return None
        run = (
            SyncRun.objects.filter(account_id=self.account_id, outcome=SyncRun.Outcome.OK)
            .order_by("-started_at")
            .values_list("started_at", flat=True)
            .first()
        )
        stamps = [moment for moment in (run, self.last_synced_at) if moment is not None]
        return max(stamps) if stamps else None

    @property
    def usage_fraction(self) -> float | None:
        if not self.data_limit_bytes or self.data_used_bytes is None:
            return None
        return min(1.0, self.data_used_bytes / self.data_limit_bytes)


class SyncRun(models.Model):
    """One pass over one provider account: what changed, how long it took, and what went wrong."""

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        OK = "ok", "OK"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped (another sync was running)"

    account = models.ForeignKey("providers.ProviderAccount", on_delete=models.CASCADE, related_name="sync_runs")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.RUNNING)
    seen = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    vanished = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0, help_text="Rows seen exactly as mirrored: not written.")
    error = models.TextField(blank=True)
    # Upstream rows the mirror could not hold as they came (a value past a column's range, an id too long):
    # [{"kind", "upstream_id", "reason"}], the first PROBLEMS_KEPT of them; `problem_count` counts them all.
    problems = models.JSONField(default=list, blank=True)
    problem_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"sync {self.account_id} {self.started_at:%Y-%m-%d %H:%M} {self.outcome}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class UsageSample(models.Model):
    """A resource's usage counter as one sync saw it; downsampled (hourly, then daily) and pruned by a task.

    `bytes_used` is the upstream's running total of data used (whatever kind counts it), so the
    growth between two samples is what was used in between; `bytes_limit` is the limit at that moment.
    `resolution` says what the row stands for: a raw sample, or the last sample of its hour or day.
    """

    class Resolution(models.TextChoices):
        RAW = "raw", "At a sync"
        HOUR = "hour", "Last of its hour"
        DAY = "day", "Last of its day"

    # Indexed by (resource, at) below, which also serves lookups by resource alone.
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="usage_samples", db_index=False)
    at = models.DateTimeField()
    bytes_used = models.BigIntegerField()
    bytes_limit = models.BigIntegerField(null=True, blank=True)
    resolution = models.CharField(max_length=4, choices=Resolution.choices, default=Resolution.RAW)

    class Meta:
        ordering = ["resource", "at"]
        indexes = [
            models.Index(fields=["resource", "at"]),
            models.Index(fields=["resolution", "at"]),
        ]

    def __str__(self) -> str:
        return f"{self.resource_id} {self.at:%Y-%m-%d %H:%M} {self.bytes_used}"


class Alert(models.Model):
    """A warning sent once per subject, threshold and cycle (a renewal or top-up starts a new cycle)."""

    class Kind(models.TextChoices):
        EXPIRY = "expiry", "Expires soon"
        USAGE = "usage", "Data usage"
        OFFLINE = "offline", "Connection offline"
        LOW_BALANCE = "low_balance", "Provider balance low"
        OUT_OF_STOCK = "out_of_stock", "Cannot be sold: out of stock"
        DRIFT = "drift", "Changed outside the dashboard"
        RUNWAY = "runway", "Provider balance runs out soon"
        MISALIGNED = "misaligned", "Upstream ends before the paid period"
        MARGIN = "margin", "Renewal would sell below cost"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    resource = models.ForeignKey(Resource, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts")
    account = models.ForeignKey(
        "providers.ProviderAccount", null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    customer = models.ForeignKey(
        "accounts.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    subject = models.CharField(max_length=60, help_text="'resource:<id>' or 'account:<id>': what the alert is about.")
    threshold = models.CharField(max_length=30, help_text="e.g. '7d' before expiry or '80%' of data.")
    cycle = models.CharField(max_length=100, help_text="What makes a repeat a new alert (e.g. the expiry time).")
    message = models.TextField()
    recipients = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivery_error = models.TextField(blank=True)
    # Staff acknowledge an alert once someone is on it; it then leaves the open list.
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject", "threshold", "cycle"], name="one_alert_per_subject_threshold_cycle"
            )
        ]
        indexes = [models.Index(fields=["customer", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.threshold}: {self.message[:60]}"

    @property
    def delivery_status(self) -> str:
        """ "delivered", "sending" (a worker holds it), "failed" (kept and retried) or "pending" (not tried yet)."""
        if self.delivered_at is not None:
            return "delivered"
        if self.delivery_error.startswith(SENDING_PREFIX):
            return "sending"
        return "failed" if self.delivery_error else "pending"


class BulkJob(models.Model):
    """One staff action over many resources at once, run row by row by a worker (`inventory.bulk`)."""

    class Action(models.TextChoices):
        ASSIGN = "assign", "Assign to a customer"
        REFRESH = "refresh", "Refresh from upstream"
        EXPORT = "export", "Export"
        EXTEND = "extend", "Extend by one period"
        ADD_GB = "add_gb", "Add GB"

    action = models.CharField(max_length=20, choices=Action.choices)
    actor = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="bulk_jobs"
    )
    # The assign target (None = back to stock), the GB to add, the export format: whichever the action needs.
    customer = models.ForeignKey(
        "accounts.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    gb = models.PositiveIntegerField(null=True, blank=True)
    export_format = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"bulk {self.get_action_display().lower()} #{self.pk}"


class BulkItem(models.Model):
    """One resource of a bulk job and what happened to it."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Waiting"
        OK = "ok", "Done"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="items")
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="+")
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.PENDING)
    message = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["job", "resource"], name="one_bulk_item_per_resource")]
        indexes = [models.Index(fields=["job", "outcome", "id"], name="bulk_item_progress")]

    def __str__(self) -> str:
        return f"{self.job} resource {self.resource_id}: {self.outcome}"


class DriftItem(models.Model):
    """A change to a resource made outside the dashboard (in the provider's own console), found by the sync.

    One open item per resource and watched field: a later sighting of the same field updates it. `before`
    is what we last set or saw, `after` what upstream now says (None: the resource is gone upstream).
    """

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted (the provider's value is kept)"
        RESTORED = "restored", "Restored (our value was pushed back)"
        SUPERSEDED = "superseded", "Superseded (back to our value, or gone upstream)"

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="drift_items")
    account = models.ForeignKey("providers.ProviderAccount", on_delete=models.CASCADE, related_name="drift_items")
    # Who held the resource when the change was seen (a later reassignment does not rewrite history).
    customer = models.ForeignKey(
        "accounts.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="drift_items"
    )
    field_key = models.CharField(max_length=60, help_text="The integration's stable key of the watched field.")
    field_label = models.CharField(max_length=100)
    secret = models.BooleanField(default=False, help_text="Masked in lists; shown to staff on the item's page.")
    customer_facing = models.BooleanField(default=False, help_text="The customer is told when it is accepted.")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=20, choices=State.choices, default=State.OPEN)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-first_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["resource", "field_key"],
                condition=models.Q(state="open"),
                name="one_open_drift_per_resource_field",
            )
        ]
        indexes = [
            # The queue's seek order, per state (`inventory.selectors.drift_for_staff`).
            models.Index(fields=["state", "-first_seen_at", "-id"], name="drift_state_seek"),
            models.Index(fields=["resource", "state"], name="drift_resource_state"),
        ]

    def __str__(self) -> str:
        return f"{self.field_label} of {self.resource_id} ({self.state})"

    # What lists show (a secret masked) and what the item's page shows staff (in clear).
    @property
    def before_listed(self) -> str:
        return drift_value_text(self.before, masked=self.secret)

    @property
    def after_listed(self) -> str:
        return drift_value_text(self.after, masked=self.secret)

    @property
    def before_text(self) -> str:
        return drift_value_text(self.before)

    @property
    def after_text(self) -> str:
        return drift_value_text(self.after)


# How a masked secret shows: that it is set, never any part of it (the audit log's placeholder).
MASKED = "[redacted]"


def drift_value_text(value, *, masked: bool = False) -> str:
    """A watched value as people read it; a masked one says only whether it is set."""
    if value is None or value == "" or value == []:
        return "(none)"
    if masked:
        return MASKED
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
