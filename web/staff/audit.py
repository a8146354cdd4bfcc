"""The staff audit page: business events and the model diffs of admin edits, filtered, newest first, by keyset."""

from __future__ import annotations

import datetime as dt
import json

from django import forms
from django.db.models import CharField
from django.db.models.functions import Cast
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode

from accounts.access import staff_required
from accounts.models import Customer
from ops import keyset, selectors
from ops.audit import redact

PER_PAGE = 50
MAX_ID_DIGITS = 18  # a longer number is no id the database can hold: read it as part of a name
# The models django-auditlog tracks (settings.AUDITLOG_INCLUDE_TRACKING_MODELS), as the filter offers them.
TRACKED_MODELS = [
    ("billing.product", "Products and prices"),
    ("providers.provideraccount", "Provider accounts"),
    ("accounts.user", "Users and roles"),
    ("accounts.customer", "Customers"),
]

TAB_FIELDS = {
    "events": ["actor", "customer", "resource", "action", "since", "until"],
    "changes": ["actor", "customer", "model", "since", "until"],
}


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150, help_text='A username, or "system".')
    customer = forms.CharField(required=False, max_length=200, help_text="A customer's number or part of its name.")
    resource = forms.IntegerField(required=False, min_value=1, label="Resource id")
    action = forms.CharField(
        required=False,
        max_length=100,
        help_text='The start of an action name, e.g. "billing.".',
        widget=forms.TextInput(attrs={"list": "audit-actions"}),
    )
    model = forms.ChoiceField(required=False, choices=[("", "Every tracked model"), *TRACKED_MODELS])
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "audit-%s")
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("since") and cleaned.get("until") and cleaned["since"] > cleaned["until"]:
            raise forms.ValidationError("The start date is after the end date.")
        return cleaned

    def customers(self):
        """The customers the filter names (by number, else by part of the name), or None for no filter."""
        text = self.cleaned_data.get("customer", "").strip()
        if not text:
            return None
        if text.isdigit() and len(text) <= MAX_ID_DIGITS:
            return Customer.objects.filter(pk=int(text))
        return Customer.objects.filter(name__icontains=text)

    def moments(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The date range as aware datetimes in the display time zone; the end date counts whole."""

        def start_of(day: dt.date | None) -> dt.datetime | None:
            return timezone.make_aware(dt.datetime.combine(day, dt.time.min)) if day else None

        until = self.cleaned_data.get("until")
        return start_of(self.cleaned_data.get("since")), start_of(until + dt.timedelta(days=1) if until else None)


def _shown(data) -> str:
    """Audit data as staff read it: every secret-looking key redacted again (rows older than a policy change too)."""
    return json.dumps(redact(data), indent=1, sort_keys=True, default=str) if data else ""


def _own_fields(entry) -> dict:
    """The entry's changes to the model's own columns (a create also lists reverse relations, which say nothing)."""
    model = entry.content_type.model_class()
    names = {field.name for field in model._meta.concrete_fields} if model else set()
    return {name: values for name, values in entry.changes_dict.items() if name in names}


@staff_required
def audit_log(request):
    """?tab=events (our business events) or ?tab=changes (model diffs from django-auditlog)."""
    tab = "changes" if request.GET.get("tab") == "changes" else "events"
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    since, until = form.moments() if form.is_valid() else (None, None)
    cursor = keyset.Cursor.decode(request.GET.get("before"))
    customers = form.customers() if form.is_valid() else None
    if tab == "events":
        rows = selectors.audit_events(
            actor=filters.get("actor", ""),
            customer_ids=None if customers is None else customers.values("pk"),
            resource_id=filters.get("resource"),
            action=filters.get("action", ""),
            since=since,
            until=until,
        )
        result = keyset.page([keyset.Source(rows)], cursor=cursor, size=PER_PAGE)
        for event in result.items:
            event.shown_data = _shown(event.data)
    else:
        rows = selectors.model_changes(
            actor=filters.get("actor", ""),
            model="accounts.customer" if customers is not None else filters.get("model", ""),
            # auditlog keeps the object's key as text.
            object_ids=None if customers is None else customers.annotate(key=Cast("pk", CharField())).values("key"),
            since=since,
            until=until,
        )
        result = keyset.page([keyset.Source(rows, time_field="timestamp")], cursor=cursor, size=PER_PAGE)
        for entry in result.items:
            entry.shown_changes = redact(_own_fields(entry))
    query = {key: value for key, value in request.GET.items() if key != "before" and value}
    return render(
        request,
        "staff/audit_log.html",
        {
            "tab": tab,
            "form": form,
            "fields": [form[name] for name in TAB_FIELDS[tab]],
            "rows": result.items,
            "actions": selectors.audit_actions(),
            "first_page": f"{request.path}?{urlencode(query)}",
            "older": f"{request.path}?{urlencode({**query, 'before': result.next_cursor})}"
            if result.next_cursor
            else "",
            "is_first_page": cursor is None,
            "tab_query": urlencode({key: value for key, value in query.items() if key != "tab"}),
        },
    )
