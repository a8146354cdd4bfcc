"""Staff forms for iProxy phones and proxy accesses; every value is checked by `integrations.iproxy.rules`.

A form builds the same JSON body the client will send, runs the documented rule on it and turns each
RuleViolation into an error on the field it names, so a rule lives in one place and nothing invalid is
sent. Forms that change something offer `changes()`: only what differs from the mirrored state.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from django import forms

from integrations.iproxy import actions as services
from integrations.iproxy import rules
from integrations.iproxy.client import CLEAR, ProxyAccess
from providers.http.parsing import format_rfc3339
from providers.http.rules import RuleViolation

BOOL_CHOICES = [("true", "Yes"), ("false", "No")]
SEPARATORS = re.compile(r"[\s,;]+")
DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _add_violations(
    form: forms.Form, violations: list[RuleViolation], field_map: Mapping[str, str] | None = None
) -> None:
    """Show each rule violation on its field (or above the form when it names none of them)."""
    for violation in violations:
        name = (field_map or {}).get(violation.field, violation.field)
        if name in form.fields:
            if name not in form.errors or violation.message not in form.errors[name]:
                form.add_error(name, violation.message)
        else:
            form.add_error(None, str(violation))


def split_list(value: str) -> list[str]:
    """'1.1.1.1, 8.8.8.8' or one per line -> ['1.1.1.1', '8.8.8.8']."""
    return [item for item in SEPARATORS.split(value or "") if item]


def _bool_field(label: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label, choices=BOOL_CHOICES, coerce=lambda value: value == "true", required=False, empty_value=None
    )


def _number(value: float | None) -> float | int | None:
    return int(value) if value is not None and float(value).is_integer() else value


def _minute(moment: dt.datetime | None) -> dt.datetime | None:
    # The browser's datetime-local field has minutes only: an expiry shown and posted back is unchanged.
    return moment.replace(second=0, microsecond=0) if moment is not None else None


def _ints_or_text(value: str) -> list[Any]:
    # Anything that is not a whole number goes to the rule as it is, so the rule's message is shown.
    return [_int_or_text(item) for item in split_list(value)]


def _int_or_text(item: str) -> int | str:
    try:
        return int(item)
    except ValueError:  # not a number, or more digits than Python converts (a 500 otherwise)
        return item


# Connections -------------------------------------------------------------------------------------------


class ConnectionCreateForm(forms.Form):
    name = forms.CharField(max_length=rules.TEXT_MAX)
    description = forms.CharField(required=False, max_length=rules.TEXT_MAX)
    country = forms.CharField(required=False, help_text="2-letter code, e.g. pl; with a city.")
    city = forms.CharField(required=False, help_text="e.g. waw")
    server_id = forms.CharField(required=False, label="Server id", help_text="Instead of country and city (VIP).")
    prolongation_enabled = forms.BooleanField(required=False, label="Pay for the plan automatically")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        body = {
            key: value.strip().lower() if key in ("country", "city") else value
            for key in ("name", "description", "country", "city", "server_id")
            if (value := data.get(key))
        }
        if data.get("prolongation_enabled"):
            body["prolongation_enabled"] = True
        if "name" in self.errors:
            return data
        _add_violations(self, rules.check_create_connection(body))
        self.body = body
        return data


SETTINGS_LABELS = {
    "prolongation_enabled": "Pay for the plan automatically",
    "dns": "DNS servers",
    "telegram_change_ip_notification_enabled": "Telegram: notify on IP change",
    "telegram_status_notification_enabled": "Telegram: notify on status change",
    "reboot_cron_string": "Scheduled reboot (cron)",
    "low_battery_reboot_threshold": "Reboot below battery %",
    "no_network_reboot_timeout_seconds": "Reboot after no network for (s)",
    "ip_change_airplane_mode_time_seconds": "Airplane mode time on IP change (s)",
    "no_network_airplane_toggle_timeout_seconds": "Toggle airplane mode after no network for (s)",
    "tariff_notify_hours_before_expired": "Notify hours before the plan expires",
    "no_wifi_inet_disable_wifi_timeout_seconds": "Disable Wi-Fi without internet after (s)",
    "no_wifi_connection_reboot_timeout_seconds": "Reboot without Wi-Fi connection after (s)",
    "tcp_fingerprint": "TCP fingerprint",
    "ip_change_wait_unique": "Wait for a unique IP on change",
    "ip_change_wait_unique_attempts": "Unique IP attempts",
    "ip_change_wait_unique_lookbehind_minutes": "Unique IP look-behind (min)",
    "ip_change_enabled": "Change IP on a timer",
    "ip_change_interval_minutes": "IP change interval (min)",
    "macros_url": "Macros URL",
    "app_restart_interval_minutes": "Restart the app every (min)",
    "connection_refresh_interval_minutes": "Refresh the connection every (min)",
}
BOOL_SETTINGS = frozenset(
    {
        "prolongation_enabled",
        "telegram_change_ip_notification_enabled",
        "telegram_status_notification_enabled",
        "ip_change_wait_unique",
        "ip_change_enabled",
    }
)
LIST_SETTINGS = frozenset({"dns", "tariff_notify_hours_before_expired"})
TEXT_SETTINGS = frozenset({"reboot_cron_string", "macros_url"})


class ConnectionSettingsForm(forms.Form):
    """Every documented setting, shown with its current value; only the ones changed are sent.

    A setting missing from the posted data counts as unchanged, so a partial post changes only itself.
    """

    def __init__(self, *args: Any, current: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.current = current
        for key in rules.SETTINGS_RULES:
            label = SETTINGS_LABELS.get(key, key.replace("_", " "))
            if key in BOOL_SETTINGS:
                field: forms.Field = _bool_field(label)
                initial: Any = "true" if current.get(key) else "false"
            elif key in LIST_SETTINGS:
                field = forms.CharField(label=label, required=False, help_text="Comma-separated; empty for none.")
                initial = ", ".join(str(item) for item in current.get(key) or [])
            elif key == "tcp_fingerprint":
                choices = [("", "— not set —"), *((name, name) for name in rules.TCP_FINGERPRINTS)]
                field = forms.ChoiceField(label=label, choices=choices, required=False)
                initial = current.get(key, "")
            elif key in TEXT_SETTINGS:
                field = forms.CharField(label=label, required=False, help_text="Empty to disable.")
                initial = current.get(key, "")
            elif key == "low_battery_reboot_threshold":
                field = forms.FloatField(label=label, required=False)
                initial = current.get(key)
            else:
                field = forms.IntegerField(label=label, required=False)
                initial = current.get(key)
            field.initial = initial
            self.fields[key] = field

    def _wire(self, key: str, value: Any) -> Any:
        if key == "dns":
            return split_list(value)
        if key == "tariff_notify_hours_before_expired":
            return _ints_or_text(value)
        if key == "low_battery_reboot_threshold":
            return _number(value)
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        changes: dict[str, Any] = {}
        for key in self.fields:
            if key not in self.data or key in self.errors or data.get(key) is None:
                continue
            value = self._wire(key, data[key])
            now = self.current.get(key)
            if value != (list(now) if isinstance(now, tuple) else now):
                changes[key] = value
        if not self.errors:
            _add_violations(self, rules.check_update_settings(changes))
        self._changes = changes
        return data

    def changes(self) -> dict[str, Any]:
        return dict(self._changes)


class ProlongateForm(forms.Form):
    days = forms.IntegerField(initial=services.PLAN_DAYS, help_text=f"A multiple of {services.PLAN_DAYS}.")
    coupon_code = forms.CharField(required=False, max_length=rules.TEXT_MAX)

    def clean_days(self) -> int:
        days = self.cleaned_data["days"]
        violations = rules.check_prolongation_days(days, services.PLAN_DAYS)
        if violations:
            raise forms.ValidationError([violation.message for violation in violations])
        return days


class CommandForm(forms.Form):
    via = forms.ChoiceField(
        choices=[(services.VIA_COMMAND, "command push"), (services.VIA_LINK, "our server-side action link")],
        initial=services.VIA_COMMAND,
        required=False,
        widget=forms.Select(attrs={"aria-label": "Send it by"}),
    )

    def clean_via(self) -> str:
        return self.cleaned_data.get("via") or services.VIA_COMMAND


# Proxy accesses ------------------------------------------------------------------------------------------

ACCESS_FIELD_MAP = {
    "auth": "login",
    "auth.login": "login",
    "auth.password": "password",
    "acl_inbound_policy": "acl_inbound_ips",
}


class AccessCreateForm(forms.Form):
    listen_service = forms.ChoiceField(label="Protocol", choices=[(s, s) for s in rules.LISTEN_SERVICES])
    auth_type = forms.ChoiceField(
        label="Authentication", choices=[(a, a) for a in rules.AUTH_TYPES], help_text="noauth needs allowed IPs."
    )
    login = forms.CharField(required=False, help_text="Leave login and password empty to have them generated.")
    password = forms.CharField(required=False)
    acl_inbound_ips = forms.CharField(
        label="Allowed client IPs",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional for userpass.",
    )
    description = forms.CharField(required=False, max_length=rules.TEXT_MAX)
    expires_at = forms.DateTimeField(required=False, widget=DATETIME_WIDGET, help_text="Empty: never by time.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        body: dict[str, Any] = {"listen_service": data["listen_service"], "auth_type": data["auth_type"]}
        if data.get("login") or data.get("password"):
            body["auth"] = {"login": data.get("login") or None, "password": data.get("password") or None}
        ips = split_list(data.get("acl_inbound_ips", ""))
        if ips:
            body["acl_inbound_policy"] = services.iproxy_acl_policy(ips)
            body["acl_inbound_ips"] = ips
        if data.get("description"):
            body["description"] = data["description"]
        if data.get("expires_at"):
            body["expires_at"] = format_rfc3339(data["expires_at"])
        _add_violations(self, rules.check_proxy_access_create(body), ACCESS_FIELD_MAP)
        data["acl_inbound_ips"] = ips
        return data

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "listen_service": data["listen_service"],
            "auth_type": data["auth_type"],
            "login": data.get("login") or None,
            "password": data.get("password") or None,
            "description": data.get("description") or None,
            "acl_inbound_ips": data["acl_inbound_ips"],
            "expires_at": data.get("expires_at"),
        }


class AccessUpdateForm(forms.Form):
    """Expiry (or none), new credentials, allowed IPs and description of one access; shown pre-filled."""

    expires_at = forms.DateTimeField(required=False, widget=DATETIME_WIDGET)
    clear_expiry = forms.BooleanField(required=False, label="Remove the expiry")
    login = forms.CharField(required=False, help_text="Empty keeps the login.")
    password = forms.CharField(required=False, help_text="Empty keeps the password.")
    acl_inbound_ips = forms.CharField(
        label="Allowed client IPs", required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Empty: any IP."
    )
    description = forms.CharField(required=False, max_length=rules.TEXT_MAX)

    def __init__(self, *args: Any, current: ProxyAccess | None, expires_at=None, **kwargs: Any) -> None:
        # `current` is the access as last mirrored, typed (`Resource.details`); None when it cannot be read.
        kwargs.setdefault("prefix", f"access-{current.id if current is not None else ''}")
        super().__init__(*args, **kwargs)
        self.current = current
        self.fields["expires_at"].initial = expires_at
        self.fields["acl_inbound_ips"].initial = ", ".join(self._current_ips())
        self.fields["description"].initial = current.description if current is not None else ""

    def _current_ips(self) -> list[str]:
        return list(self.current.acl_inbound_ips) if self.current is not None else []

    def _posted(self, name: str) -> bool:
        return self.add_prefix(name) in self.data

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        changes: dict[str, Any] = {}
        wire: dict[str, Any] = {}
        if data.get("clear_expiry"):
            changes["expires_at"], wire["expires_at"] = CLEAR, rules.ZERO_TIME
        elif data.get("expires_at") and _minute(data["expires_at"]) != _minute(self.fields["expires_at"].initial):
            changes["expires_at"] = data["expires_at"]
            wire["expires_at"] = format_rfc3339(data["expires_at"])
        if data.get("login") or data.get("password"):
            login = data.get("login") or (self.current.auth.login if self.current and self.current.auth else None)
            changes["login"], changes["password"] = login, data.get("password") or None
            wire["auth"] = {"login": login, "password": changes["password"]}
        ips = split_list(data.get("acl_inbound_ips", ""))
        if self._posted("acl_inbound_ips") and ips != self._current_ips():
            changes["acl_inbound_ips"] = wire["acl_inbound_ips"] = ips
        description = self.current.description if self.current is not None else ""
        if self._posted("description") and data.get("description", "") != description:
            changes["description"] = wire["description"] = data.get("description", "")
        auth_type = self.current.auth_type if self.current is not None else None
        # The access's own auth type rides along only for the check: a noauth access takes no credentials.
        check = {**wire, "auth_type": auth_type} if "auth" in wire and auth_type else wire
        violations = rules.check_proxy_access_update(check)
        if not violations and "acl_inbound_ips" in wire:
            violations = rules.check_proxy_access_state(auth_type, services.iproxy_acl_policy(ips), ips)
        _add_violations(self, violations, ACCESS_FIELD_MAP)
        self._changes = changes
        return data

    def changes(self) -> dict[str, Any]:
        return dict(self._changes)
