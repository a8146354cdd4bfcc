"""Staff forms for iProxy phones and proxy accesses; every value is checked by `integrations.iproxy.rules`.

A form builds the same JSON body the client will send, runs the documented rule on it and turns each
RuleViolation into an error on the field it names, so a rule lives in one place and nothing invalid is
sent. Forms that change something offer `changes()`: only what differs from the mirrored state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zoneinfo
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django import forms

from billing.forms import MAX_AMOUNT, to_cents
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


# The rest of a phone's console (issue 10) -------------------------------------------------------------


class _RuleForm(forms.Form):
    """A form whose `body()` is checked by one documented rule; violations land on the fields they name."""

    rule = staticmethod(lambda body: [])
    field_map: Mapping[str, str] = {}

    def body(self) -> dict[str, Any]:
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.errors:
            _add_violations(self, self.rule(self.body()), self.field_map)
        return data


class BasicInfoForm(_RuleForm):
    name = forms.CharField(max_length=rules.TEXT_MAX, required=False)
    description = forms.CharField(max_length=rules.TEXT_MAX, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    rule = staticmethod(rules.check_connection_basic_info)

    def __init__(self, *args: Any, current: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.current = current
        if current is not None:
            self.fields["name"].initial = current.basic_info.name
            self.fields["description"].initial = current.basic_info.description

    def body(self) -> dict[str, Any]:
        """Only what changed: an unchanged name is not sent again."""
        data, body = self.cleaned_data, {}
        name = (data.get("name") or "").strip()
        now_name = self.current.basic_info.name if self.current is not None else None
        now_description = self.current.basic_info.description if self.current is not None else None
        if name and name != now_name:
            body["name"] = name
        if "description" in self.data and data.get("description", "") != now_description:
            body["description"] = data.get("description", "")
        return body


class ChangePlanForm(_RuleForm):
    plan_id = forms.CharField(label="New plan id", max_length=rules.TEXT_MAX, help_text="The iProxy plan to move to.")
    coupon_code = forms.CharField(required=False, max_length=rules.TEXT_MAX)
    rule = staticmethod(rules.check_change_plan)

    def body(self) -> dict[str, Any]:
        data = self.cleaned_data
        body = {"plan_id": data["plan_id"].strip()}
        if data.get("coupon_code"):
            body["coupon_code"] = data["coupon_code"].strip()
        return body


class RecreateForm(_RuleForm):
    name = forms.CharField(max_length=rules.TEXT_MAX)
    server_id = forms.CharField(label="Server id", max_length=rules.TEXT_MAX)
    description = forms.CharField(required=False, max_length=rules.TEXT_MAX)
    prolongation_enabled = forms.BooleanField(required=False, label="Pay for the plan automatically")
    confirm = forms.BooleanField(label="I understand that every proxy access on this phone ends now")
    rule = staticmethod(rules.check_recreate_connection)

    def __init__(self, *args: Any, current: Any = None, connection_id: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection_id = connection_id
        if current is not None:
            self.fields["name"].initial = current.basic_info.name
            self.fields["server_id"].initial = current.basic_info.server_id
            self.fields["description"].initial = current.basic_info.description

    def body(self) -> dict[str, Any]:
        data = self.cleaned_data
        body: dict[str, Any] = {
            "connection_id": self.connection_id,
            "name": data["name"],
            "server_id": data["server_id"],
        }
        if data.get("description"):
            body["description"] = data["description"]
        if data.get("prolongation_enabled"):
            body["prolongation_enabled"] = True
        return body


DELETE_REASON_LABELS = {
    "does_not_need": "No longer needed",
    "short_period": "Used only for a short period",
    "switch_server": "Switching to another server",
    "technical_issues": "Technical problems",
    "mistake": "Created by mistake",
}
OTHER = "other"


class DeleteConnectionForm(_RuleForm):
    reason = forms.ChoiceField(
        choices=[*((key, DELETE_REASON_LABELS.get(key, key)) for key in rules.DELETE_REASONS), (OTHER, "Other…")]
    )
    other_reason = forms.CharField(required=False, max_length=rules.TEXT_MAX, label="Other reason")
    confirm = forms.BooleanField(label="Delete this connection upstream")
    rule = staticmethod(rules.check_delete_connection)
    field_map = {"reason": "other_reason"}

    def clean(self) -> dict[str, Any]:
        data = forms.Form.clean(self)
        if data.get("reason") == OTHER and not (data.get("other_reason") or "").strip():
            self.add_error("other_reason", "Say why, in a few words.")
        if not self.errors:
            _add_violations(self, self.rule(self.body()), self.field_map)
        return data

    def body(self) -> dict[str, Any]:
        data = self.cleaned_data
        reason = data["reason"] if data["reason"] != OTHER else data["other_reason"].strip()
        return {"reason": reason}


PERMISSION_CHOICES = [(name, name.replace("_", " ")) for name in rules.TEAM_PERMISSIONS]


class TeamAccessForm(_RuleForm):
    """A team member's email and the permission set as checkboxes; unticked ones are sent as false."""

    email = forms.EmailField(max_length=rules.TEXT_MAX)
    permissions = forms.MultipleChoiceField(
        choices=PERMISSION_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    rule = staticmethod(rules.check_team_access_modify)

    def __init__(self, *args: Any, member: Any = None, **kwargs: Any) -> None:
        if member is not None:
            kwargs.setdefault("prefix", f"team-{member_prefix(member.email)}")
        super().__init__(*args, **kwargs)
        if member is not None:
            self.fields["email"].initial = member.email
            self.fields["email"].widget = forms.HiddenInput()
            self.fields["permissions"].initial = [name for name, on in member.permissions.items() if on]

    def body(self) -> dict[str, Any]:
        granted = set(self.cleaned_data.get("permissions") or ())
        return {
            "email": self.cleaned_data["email"],
            "permissions": {name: name in granted for name in rules.TEAM_PERMISSIONS},
        }


def member_prefix(email: str) -> str:
    """A form prefix for one member that is a valid HTML id (emails hold '@' and dots)."""
    return hashlib.sha256(email.encode()).hexdigest()[:10]


class TeamRemoveForm(_RuleForm):
    email = forms.EmailField(max_length=rules.TEXT_MAX, widget=forms.HiddenInput())
    rule = staticmethod(rules.check_team_access_remove)

    def body(self) -> dict[str, Any]:
        return {"email": self.cleaned_data["email"]}


COMMAND_LABELS = {
    "refresh_fingerprint": "Refresh the fingerprint",
    "refresh": "Refresh the connection",
    "reboot": "Reboot the phone",
    "changeip": "Change the IP",
    "fix_lte": "Fix LTE",
    "toggle_proxy": "Switch the proxy on or off",
    "find_my_device": "Find my device (ring the phone)",
    "debug_report": "Send a debug report",
    "upgrade_app": "Upgrade the iProxy app",
    "speed_test": "Run a speed test",
}


class CommandPushForm(_RuleForm):
    """One documented command; a disruptive one is sent only with `confirm` ticked."""

    command = forms.ChoiceField(choices=[(name, COMMAND_LABELS.get(name, name)) for name in rules.COMMAND_PUSH_ACTIONS])
    enabled = _bool_field("Proxy on (toggle_proxy only)")
    confirm = forms.BooleanField(required=False, label="Yes, interrupt the phone's traffic")
    rule = staticmethod(rules.check_command_push)
    field_map = {"action": "command", "toggle_proxy_params": "enabled", "toggle_proxy_params.enabled": "enabled"}

    def clean(self) -> dict[str, Any]:
        data = forms.Form.clean(self)
        command = data.get("command")
        if command == "toggle_proxy" and data.get("enabled") is None:
            self.add_error("enabled", "Say whether the proxy is to be on or off.")
        if command in services.DISRUPTIVE_COMMANDS and not data.get("confirm"):
            self.add_error("confirm", f"{COMMAND_LABELS[command]} interrupts the phone's traffic: tick to confirm.")
        if not self.errors:
            _add_violations(self, self.rule(self.body()), self.field_map)
        return data

    def body(self) -> dict[str, Any]:
        command = self.cleaned_data["command"]
        body: dict[str, Any] = {"action": command}
        if command in rules.COMMAND_PUSH_PARAMS:
            body[f"{command}_params"] = {"enabled": bool(self.cleaned_data.get("enabled"))}
        return body


class OvpnCreateForm(_RuleForm):
    name = forms.CharField(max_length=rules.TEXT_MAX)
    description = forms.CharField(required=False, max_length=rules.TEXT_MAX)
    rule = staticmethod(rules.check_ovpn_access_create)

    def body(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"name": data["name"]} | ({"description": data["description"]} if data.get("description") else {})


class OvpnRefForm(forms.Form):
    """Names one OpenVPN access of the phone (its id is not a secret; the config is)."""

    ovpn = forms.CharField(max_length=64, widget=forms.HiddenInput())

    def clean_ovpn(self) -> str:
        value = self.cleaned_data["ovpn"].strip()
        if not value.isalnum():
            raise forms.ValidationError("Not an OpenVPN access id.")
        return value


class OvpnUpdateForm(_RuleForm):
    ovpn = forms.CharField(max_length=64, widget=forms.HiddenInput())
    name = forms.CharField(max_length=rules.TEXT_MAX, required=False)
    description = forms.CharField(max_length=rules.TEXT_MAX, required=False)
    expires_at = forms.DateTimeField(required=False, widget=DATETIME_WIDGET)
    rule = staticmethod(rules.check_ovpn_access_update)

    def __init__(self, *args: Any, current: Any = None, **kwargs: Any) -> None:
        if current is not None:
            kwargs.setdefault("prefix", f"ovpn-{current.id}")
        super().__init__(*args, **kwargs)
        self.current = current
        if current is not None:
            self.fields["ovpn"].initial = current.id
            self.fields["name"].initial = current.name
            self.fields["description"].initial = current.description
            self.fields["expires_at"].initial = current.expires_at

    def clean_ovpn(self) -> str:
        return OvpnRefForm.clean_ovpn(self)

    def body(self) -> dict[str, Any]:
        data, body = self.cleaned_data, {}
        current = self.current
        if data.get("name") and (current is None or data["name"] != current.name):
            body["name"] = data["name"]
        if self.add_prefix("description") in self.data and (
            current is None or data["description"] != current.description
        ):
            body["description"] = data.get("description", "")
        if data.get("expires_at") and (current is None or _minute(data["expires_at"]) != _minute(current.expires_at)):
            body["expires_at"] = format_rfc3339(data["expires_at"])
        return body

    def changes(self) -> dict[str, Any]:
        body = self.body()
        return {
            "name": body.get("name"),
            "description": body.get("description"),
            "expires_at": self.cleaned_data.get("expires_at") if "expires_at" in body else None,
        }


class ActionLinkCreateForm(_RuleForm):
    action = forms.ChoiceField(choices=[("changeip", "Change IP"), ("reboot", "Reboot")])
    comment = forms.CharField(required=False, max_length=rules.TEXT_MAX, help_text="Who the link is for.")
    rule = staticmethod(rules.check_action_link)

    def body(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"action": data["action"]} | ({"comment": data["comment"]} if data.get("comment") else {})


class ActionLinkRefForm(forms.Form):
    handle = forms.RegexField(regex=r"^[0-9a-f]{16}$", widget=forms.HiddenInput())


STATS_MAX_DAYS = 92


class StatisticsForm(forms.Form):
    """A date range (whole days, inclusive) and the time zone the days are cut in."""

    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    tz = forms.CharField(label="Time zone", max_length=64, help_text="e.g. Europe/Lisbon")

    def clean_tz(self) -> str:
        value = self.cleaned_data["tz"].strip()
        violations = rules.check_timezone(value)
        if violations:
            raise forms.ValidationError([violation.message for violation in violations])
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                self.add_error("start", "must not be after To")
            elif (end - start).days >= STATS_MAX_DAYS:
                self.add_error("end", f"A range covers at most {STATS_MAX_DAYS} days.")
        return data

    def moments(self) -> tuple[dt.datetime, dt.datetime]:
        """The range as aware datetimes: from the start of `start` to the end of `end`, in the chosen zone."""
        zone = zoneinfo.ZoneInfo(self.cleaned_data["tz"])
        start = dt.datetime.combine(self.cleaned_data["start"], dt.time.min, tzinfo=zone)
        end = dt.datetime.combine(self.cleaned_data["end"] + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
        return start, end


class CapacityForm(forms.Form):
    max_ports = forms.IntegerField(
        label="Ports we sell on this phone", min_value=0, max_value=1000, help_text="0: the shop sells none here."
    )
    plan_price = forms.DecimalField(
        label="Plan price",
        required=False,
        min_value=Decimal("0"),
        max_value=MAX_AMOUNT,
        decimal_places=2,
        help_text="What one 30-day period of this phone's plan costs us (iProxy's API does not say); "
        "the balance runway counts it. Empty: not known.",
    )

    @classmethod
    def for_phone(cls, *, max_ports: int, plan_price_cents: int | None) -> CapacityForm:
        price = None if plan_price_cents is None else (Decimal(plan_price_cents) / 100).quantize(Decimal("0.01"))
        return cls(initial={"max_ports": max_ports, "plan_price": price})

    def clean_plan_price(self) -> int | None:
        """In minor units, as the services take it."""
        price = self.cleaned_data["plan_price"]
        return None if price is None else to_cents(price)


MAX_ALLOWED_IPS = 20


class PortalConnectionForm(forms.Form):
    """A customer's choice of protocol and of login/password or an IP allow-list for their own proxy."""

    listen_service = forms.ChoiceField(label="Protocol", choices=[(s, s) for s in rules.LISTEN_SERVICES])
    allowed_ips = forms.CharField(
        label="Allowed IPs",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="The IPv4 addresses you connect from, comma-separated: then no login is needed. "
        "Empty: connect with a login and password.",
    )

    def __init__(self, *args: Any, current: ProxyAccess | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if current is not None:
            self.fields["listen_service"].initial = current.listen_service
            self.fields["allowed_ips"].initial = (
                ", ".join(current.acl_inbound_ips) if current.auth_type == "noauth" else ""
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        ips = split_list(data.get("allowed_ips", ""))
        if len(ips) > MAX_ALLOWED_IPS:
            self.add_error("allowed_ips", f"At most {MAX_ALLOWED_IPS} addresses.")
        elif not self.errors:
            body = {
                "listen_service": data["listen_service"],
                "auth_type": "noauth" if ips else "userpass",
                "acl_inbound_ips": ips,
            }
            _add_violations(
                self,
                rules.check_proxy_access_update(body),
                {"acl_inbound_ips": "allowed_ips", "auth_type": "allowed_ips"},
            )
        data["allowed_ips"] = ips
        return data
