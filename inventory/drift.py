"""The drift queue: changes someone made in a provider's own console, found by the sync, accepted or restored.

The sync (`inventory.mirror.write_account_rows`) hands each chunk of changed rows to a `DriftWatch` before it
writes them: the integration's watched values of the mirrored upstream JSON (what we last set or saw) are
compared with the new ones (`Integration.watched_values`). A difference opens a `DriftItem`, one per resource
and field; a later sighting updates the open item, and upstream coming back to our value supersedes it. A sold
resource that vanished before its natural end is drift too. Our own changes are never drift: our actions write
the mirror right after the upstream call, and a row with an audited action after the sync began reading (a
race with the sync), or with one of ours whose answer was lost since the previous sync began, is not judged.

Staff decide: `drift_accept` keeps upstream's value (the mirror already holds it) and tells the customer where
it matters; `drift_restore` pushes our value back through the integration's ordinary audited action.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from inventory.models import DriftItem, Resource, SyncRun, drift_value_text
from notifications import services as notifications
from ops import audit, seek
from ops.models import AuditEvent
from providers import registry
from providers.http import errors
from providers.registry import ActionRefused, WatchedField

# The pseudo-field of a sold resource that vanished upstream before its natural end (deleted in the console).
PRESENCE = WatchedField("presence", "Exists upstream", customer_facing=True, restorable=False)
LISTED, GONE = "listed", "gone upstream"
RESOURCE_TARGET = Resource._meta.label_lower


# Detection (called by the sync) ---------------------------------------------------------------------


class DriftWatch:
    """One sync's judge of changed rows: built once per sync, asked once per written chunk."""

    def __init__(self, account: Any, kinds: Sequence[str], started_at: dt.datetime) -> None:
        self.account = account
        self.started_at = started_at
        self.integration = registry.for_account(account)
        self.fields: dict[str, dict[str, WatchedField]] = {}
        for kind in kinds:
            watched = self.integration.watched_fields(kind)
            if watched:
                self.fields[kind] = {field.key: field for field in watched}
        self.sold_kinds = [kind for kind in kinds if kind in registry.sold_resource_kinds()]
        self.opened = 0  # new items, for the staff alert after the sync
        self._previous_start: dt.datetime | None = None
        self._open: dict[tuple[int, str], DriftItem] | None = None

    def judge_changed(self, changed: Sequence[tuple[int, Any]], report: Any) -> None:
        """Compare the changed rows (pk, new Row) with what the mirror holds now; call before writing them.

        A handful of queries per chunk, none per row; `report(row, reason)` records a row that could not be
        judged on the run, and the sync goes on.
        """
        watched = [(pk, row) for pk, row in changed if row.kind in self.fields]
        if not watched:
            return
        held = {
            pk: (upstream, customer_id)
            for pk, upstream, customer_id in Resource.objects.filter(pk__in=[pk for pk, _ in watched]).values_list(
                "pk", "upstream", "customer_id"
            )
        }
        ours = self._ours()
        open_items = self._open_items()
        now = timezone.now()
        new: list[DriftItem] = []
        seen: list[DriftItem] = []
        superseded: list[DriftItem] = []
        for pk, row in watched:
            if pk in ours or pk not in held:
                continue
            upstream, customer_id = held[pk]
            try:
                before = self.integration.watched_values(row.kind, upstream)
                after = self.integration.watched_values(row.kind, row.upstream)
                for key, field in self.fields[row.kind].items():
                    if key not in before or key not in after:
                        continue
                    item = open_items.get((pk, key))
                    if item is not None:
                        if after[key] == item.before:
                            item.state, item.decided_at, item.last_seen_at = DriftItem.State.SUPERSEDED, now, now
                            superseded.append(item)
                        else:
                            item.after, item.last_seen_at = after[key], now
                            seen.append(item)
                    elif before[key] != after[key]:
                        new.append(self._item(pk, customer_id, field, before[key], after[key], now))
            except Exception as exc:  # one bad row never stops a sync
                report(row, f"changes outside the dashboard could not be checked: {type(exc).__name__}")
        self._save(new, seen, superseded)

    def returned(self, pks: Sequence[int]) -> None:
        """Resources listed again after vanishing: their "gone upstream" item no longer holds."""
        if pks:
            DriftItem.objects.filter(resource_id__in=pks, field_key=PRESENCE.key, state=DriftItem.State.OPEN).update(
                state=DriftItem.State.SUPERSEDED, decided_at=timezone.now()
            )

    def vanished(self, pks: Sequence[int]) -> None:
        """Resources the sync no longer sees (call before marking them): a sold one gone before its end is drift;
        the open items about its fields no longer hold."""
        if not pks:
            return
        now = timezone.now()
        DriftItem.objects.filter(resource_id__in=pks, state=DriftItem.State.OPEN).exclude(
            field_key=PRESENCE.key
        ).update(state=DriftItem.State.SUPERSEDED, decided_at=now)
        sold = list(
            Resource.objects.filter(pk__in=pks, kind__in=self.sold_kinds, customer__isnull=False)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))  # ending at its time is no drift
            .values_list("pk", "customer_id")
        )
        if not sold:
            return
        ours = self._ours()
        gone = [self._item(pk, customer_id, PRESENCE, LISTED, GONE, now) for pk, customer_id in sold if pk not in ours]
        self._save(gone, [], [])

    def _ours(self) -> set[int]:
        """The resources not to judge: an audited action of ours since this sync began reading (a race), or one
        whose answer was lost since the previous sync began (it may be the change we now see; an older one
        was already there for the previous sync to absorb). One time-bounded query, no list of ids."""
        if self._previous_start is None:
            previous = (
                SyncRun.objects.filter(account_id=self.account.pk, outcome=SyncRun.Outcome.OK)
                .order_by("-started_at")
                .values_list("started_at", flat=True)
                .first()
            )
            self._previous_start = min(previous or self.started_at, self.started_at)
        events = AuditEvent.objects.filter(target_type=RESOURCE_TARGET, created_at__gte=self._previous_start).filter(
            Q(created_at__gte=self.started_at) | Q(action__endswith="_unknown")
        )
        return {int(target_id) for target_id in events.values_list("target_id", flat=True) if target_id.isdigit()}

    def _open_items(self) -> dict[tuple[int, str], DriftItem]:
        """The account's open items, read once per sync (there are few; each row is judged in one chunk)."""
        if self._open is None:
            self._open = {
                (item.resource_id, item.field_key): item
                for item in DriftItem.objects.filter(account_id=self.account.pk, state=DriftItem.State.OPEN)
            }
        return self._open

    def _item(
        self, pk: int, customer_id: int | None, field: WatchedField, before: Any, after: Any, now: dt.datetime
    ) -> DriftItem:
        return DriftItem(
            resource_id=pk,
            account_id=self.account.pk,
            customer_id=customer_id,
            field_key=field.key,
            field_label=field.label,
            secret=field.secret,
            customer_facing=field.customer_facing,
            before=before,
            after=after,
            first_seen_at=now,
            last_seen_at=now,
        )

    def _save(self, new: list[DriftItem], seen: list[DriftItem], superseded: list[DriftItem]) -> None:
        if new:
            DriftItem.objects.bulk_create(new)
            self.opened += len(new)
        if seen or superseded:
            DriftItem.objects.bulk_update([*seen, *superseded], ["state", "after", "last_seen_at", "decided_at"])


# Reading (staff pages) -------------------------------------------------------------------------------

NEWEST_FIRST = seek.SortOrder("newest", "Newest first", ("first_seen_at", "id"), descending=True)


def drift_for_staff(*, state: str = DriftItem.State.OPEN, provider: str = "", account_id: str = "") -> QuerySet:
    """The queue: items in a state (every state when ""), of one provider kind or account, with what a row shows."""
    items = DriftItem.objects.select_related("resource", "account", "customer", "decided_by")
    if state:
        items = items.filter(state=state)
    if provider:
        items = items.filter(account__kind=provider)
    if account_id:
        items = items.filter(account_id=account_id)
    return items


def open_drift_count() -> int:
    return DriftItem.objects.filter(state=DriftItem.State.OPEN).count()


def open_drift_for_resource(resource: Resource) -> list[DriftItem]:
    return list(resource.drift_items.filter(state=DriftItem.State.OPEN).order_by("field_label", "id"))


def item_for_staff(item_id: int) -> DriftItem:
    """The one loader of a drift item for the staff pages (any item, or 404)."""
    return get_object_or_404(
        DriftItem.objects.select_related("resource__account", "resource__customer", "customer", "decided_by"),
        pk=item_id,
    )


# Deciding (staff) ------------------------------------------------------------------------------------


def drift_accept(*, item: DriftItem, actor: User) -> bool:
    """Keep the provider's value: the mirror already holds it. Audited; the customer is told where it matters.

    False when the item was already decided (a second click, or the sync superseded it meanwhile).
    """
    with transaction.atomic():
        locked = _locked_open(item)
        if locked is None:
            return False
        _decide(locked, DriftItem.State.ACCEPTED, actor)
        resource = locked.resource
        customer = resource.customer
        if locked.customer_facing and customer is not None:
            transaction.on_commit(lambda: _tell_customer(locked, resource, customer))
    item.refresh_from_db()
    return True


def drift_restore_refusal(item: DriftItem) -> str:
    """Why our value cannot be pushed back for this item ("" when it can)."""
    if item.field_key == PRESENCE.key:
        return "A resource deleted upstream cannot be brought back: accept it, and sell the customer a replacement."
    field = _field(item)
    if field is None:
        return "This field is no longer watched by the integration: accept the change instead."
    if not field.restorable:
        return (
            f"The provider has no call that sets the {field.label.lower()} back: "
            "accept it, or change it from the resource's page."
        )
    return ""


def drift_restore(*, item: DriftItem, actor: User) -> bool:
    """Push our value back upstream through the integration's ordinary audited action, then close the item.

    Raises ActionRefused (nothing sent) where it cannot be restored, and a ProviderError when the upstream
    refuses it (the item stays open; the action audited what it tried). False when already decided.
    """
    with transaction.atomic():
        locked = _locked_open(item)
        if locked is None:
            return False
        refusal = drift_restore_refusal(locked)
        if refusal:
            raise ActionRefused(refusal)
        resource = locked.resource
        failure: errors.ProviderError | None = None
        try:
            registry.for_resource_kind(resource.kind).restore_drift(resource, {locked.field_key: locked.before}, actor)
        except errors.ProviderError as exc:
            # Committed without deciding, so the action's own audit of what it tried stays.
            failure = exc
        else:
            _decide(locked, DriftItem.State.RESTORED, actor)
    if failure is not None:
        raise failure
    item.refresh_from_db()
    return True


def _locked_open(item: DriftItem) -> DriftItem | None:
    """The item locked for deciding, or None when it is no longer open (a double click waits here, then sees it)."""
    return (
        DriftItem.objects.select_for_update(of=("self",))
        .select_related("resource__account", "resource__customer")
        .filter(pk=item.pk, state=DriftItem.State.OPEN)
        .first()
    )


def _field(item: DriftItem) -> WatchedField | None:
    fields = registry.for_resource_kind(item.resource.kind).watched_fields(item.resource.kind)
    return next((field for field in fields if field.key == item.field_key), None)


def _decide(item: DriftItem, state: str, actor: User) -> None:
    item.state, item.decided_at, item.decided_by = state, timezone.now(), actor
    item.save(update_fields=["state", "decided_at", "decided_by"])
    values = (item.before_listed, item.after_listed) if item.secret else (item.before, item.after)
    audit.record(
        action=f"inventory.drift.{'accept' if state == DriftItem.State.ACCEPTED else 'restore'}",
        actor=actor,
        target=item.resource,
        customer=item.resource.customer,
        data={"item": item.pk, "field": item.field_key, "upstream_was": values[1], "ours_was": values[0]},
    )


def _tell_customer(item: DriftItem, resource: Resource, customer: Any) -> None:
    name = resource.label or resource.upstream_id
    if item.field_key == PRESENCE.key:
        body = f"Your proxy {name} was closed at the provider and no longer works. Contact us for a replacement."
    elif item.secret:
        body = f"The {item.field_label.lower()} of your proxy {name} has changed. The new one is on your proxy's page."
    else:
        body = (
            f"The {item.field_label.lower()} of your proxy {name} is now {drift_value_text(item.after)} "
            f"(it was {drift_value_text(item.before)})."
        )
    notifications.notify(
        customer=customer,
        event="drift.accepted",
        subject=f"A change to your proxy {name}",
        body=body,
        link=reverse("portal:proxy-detail", args=[resource.pk]),
        key=f"drift:{item.pk}:accepted",
        data={"drift": item.pk, "resource": resource.pk, "field": item.field_key},
    )
