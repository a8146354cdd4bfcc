"""Forms for Unknown Proxies token actions; every check is a rule from `integrations.unknownproxies.rules`.

A form compares what was posted with the token as last mirrored and keeps only what differs, so a
field left as it was is not sent upstream. `changes` (API field name -> value) is what the rules saw;
`service_kwargs()` is the same, named as the service takes it.
"""

from __future__ import annotations

from typing import Any

from django import forms

from integrations.unknownproxies import rules
from inventory.models import Resource
from providers.http.rules import RuleViolation

GB = rules.GB


def _as_errors(form: forms.Form, violations: list[RuleViolation], field_names: dict[str, str]) -> None:
    """Put each rule's message on its form field (by API name), or above the form when it names none."""
    for violation in violations:
        name = field_names.get(violation.field)
        if name is None or name not in form.fields:
            form.add_error(None, violation.message if not violation.field else str(violation))
        elif name not in form.errors:
            form.add_error(name, violation.message)


def _raise_first(violations: list[RuleViolation]) -> None:
    if violations:
        raise forms.ValidationError([violation.message for violation in violations])


class _TokenForm(forms.Form):
    """Common to both token forms: the mirrored resource, and turning changes into service arguments."""

    # API field name -> form field name.
    field_names: dict[str, str] = {}

    def __init__(self, *args: Any, resource: Resource, **kwargs: Any) -> None:
        self.resource = resource
        self.current: dict[str, Any] = resource.upstream or {}
        super().__init__(*args, **kwargs)
        self.changes: dict[str, Any] = {}

    def service_kwargs(self) -> dict[str, Any]:
        return {self.field_names[api]: value for api, value in self.changes.items()}

    def _posted(self, name: str) -> bool:
        # Small forms on the detail page post only some fields: the absent ones are left alone.
        return self.is_bound and name in self.data


class ResiTokenModifyForm(_TokenForm):
    """Staff: raise the data limit (whole GB), change the duration, choose the pools."""

    field_names = {"dataLimit": "data_limit", "durationHours": "duration_hours", "allowedPools": "allowed_pools"}

    data_limit = forms.IntegerField(
        label="Data limit (GB)",
        required=False,
        help_text="Whole gigabytes (1 GB = 1,000,000,000 bytes); it can be raised, never lowered.",
    )
    duration_hours = forms.IntegerField(
        label="Duration (hours)",
        required=False,
        help_text=f"Counted from the token's creation; 0 means no time limit; at most {rules.MAX_DURATION_HOURS}.",
    )
    allowed_pools = forms.MultipleChoiceField(
        label="Allowed pools",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked allows every pool.",
    )
    # An unticked checkbox list posts nothing: this says the pools were on the page, so none ticked means all.
    allowed_pools_shown = forms.CharField(widget=forms.HiddenInput, required=False, initial="1")

    def __init__(self, *args: Any, resource: Resource, pools: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, resource=resource, **kwargs)
        self.pool_ids = [pool_id for pool_id, _ in pools]
        self.fields["allowed_pools"].choices = pools
        if not self.is_bound:
            limit = resource.data_limit_bytes or self.current.get("dataLimit")
            self.initial.setdefault("data_limit", limit // GB if limit else None)
            self.initial.setdefault("duration_hours", self.current.get("durationHours"))
            self.initial.setdefault("allowed_pools", list(self.current.get("allowedPools", [])))

    @property
    def current_data_limit(self) -> int | None:
        return self.resource.data_limit_bytes or self.current.get("dataLimit")

    def clean_data_limit(self) -> int | None:
        gigabytes = self.cleaned_data.get("data_limit")
        if gigabytes is None:
            return None
        value = gigabytes * GB
        _raise_first(rules.data_limit(value, current=self.current_data_limit))
        return value

    def clean_duration_hours(self) -> int | None:
        value = self.cleaned_data.get("duration_hours")
        if value is not None:
            _raise_first(rules.duration_hours(value))
        return value

    def clean_allowed_pools(self) -> list[str]:
        value = list(self.cleaned_data.get("allowed_pools") or [])
        _raise_first(rules.allowed_pools(value, self.pool_ids))
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        changes: dict[str, Any] = {}
        if cleaned.get("data_limit") is not None and cleaned["data_limit"] != self.current_data_limit:
            changes["dataLimit"] = cleaned["data_limit"]
        if cleaned.get("duration_hours") is not None and cleaned["duration_hours"] != self.current.get("durationHours"):
            changes["durationHours"] = cleaned["duration_hours"]
        if self._posted_pools() and set(cleaned["allowed_pools"]) != set(self.current.get("allowedPools", [])):
            changes["allowedPools"] = cleaned["allowed_pools"]
        body = {"token": self.resource.upstream_id, **changes}
        violations = rules.modify_resi_token(
            body, known_pools=self.pool_ids, current_data_limit=self.current_data_limit
        )
        _as_errors(self, violations, self.field_names)
        self.changes = changes
        return cleaned

    def _posted_pools(self) -> bool:
        return self._posted("allowed_pools") or self._posted("allowed_pools_shown")


class IspTokenForm(_TokenForm):
    """Customer self-service on an ISP token: IP whitelist or user/pass, http/socks, a new password."""

    field_names = {
        "authType": "auth_type",
        "authenticatedIps": "authenticated_ips",
        "proxyType": "proxy_type",
        "password": "password",
    }

    auth_type = forms.ChoiceField(
        label="Authentication",
        required=False,
        choices=[("user", "Username and password"), ("ip", "Whitelisted IPs")],
    )
    authenticated_ips = forms.CharField(
        label="Whitelisted IPs",
        required=False,
        widget=forms.Textarea(attrs={"rows": rules.MAX_AUTHENTICATED_IPS, "placeholder": "203.0.113.7"}),
        help_text=f"IPv4 addresses, one per line, at most {rules.MAX_AUTHENTICATED_IPS}.",
    )
    proxy_type = forms.ChoiceField(label="Protocol", required=False, choices=[("http", "HTTP"), ("socks", "SOCKS")])
    password = forms.CharField(
        label="New password",
        required=False,
        strip=False,
        widget=forms.TextInput(attrs={"autocomplete": "new-password"}),
        help_text=(
            f"{rules.ISP_CREDENTIAL_MIN_LENGTH} to {rules.ISP_CREDENTIAL_MAX_LENGTH} letters or digits; "
            "leave empty to keep the current one."
        ),
    )

    def __init__(self, *args: Any, resource: Resource, **kwargs: Any) -> None:
        super().__init__(*args, resource=resource, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("auth_type", self.current.get("authType"))
            self.initial.setdefault("authenticated_ips", "\n".join(self.current.get("authenticatedIps", [])))
            self.initial.setdefault("proxy_type", self.current.get("proxyType"))

    def clean_authenticated_ips(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data.get("authenticated_ips", "").splitlines()]
        addresses = [line for line in lines if line]
        _raise_first(rules.authenticated_ips(addresses))
        return addresses

    def clean_password(self) -> str:
        value = self.cleaned_data.get("password", "")
        if value:
            _raise_first(rules.isp_credential(value, "password"))
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        changes: dict[str, Any] = {}
        for api, name in (("authType", "auth_type"), ("proxyType", "proxy_type")):
            if self._posted(name) and cleaned.get(name) and cleaned[name] != self.current.get(api):
                changes[api] = cleaned[name]
        ips = cleaned.get("authenticated_ips", [])
        if self._posted("authenticated_ips") and ips != list(self.current.get("authenticatedIps", [])):
            changes["authenticatedIps"] = ips
        for api, name in self._credentials():
            if cleaned.get(name) and cleaned[name] != self.current.get(api):
                changes[api] = cleaned[name]
        _as_errors(self, rules.modify_isp_token({"token": self.resource.upstream_id, **changes}), self.field_names)
        self.changes = changes
        return cleaned

    def _credentials(self) -> tuple[tuple[str, str], ...]:
        return (("password", "password"),)


class IspTokenModifyForm(IspTokenForm):
    """Staff: every field the provider lets us modify, the username too."""

    field_names = {**IspTokenForm.field_names, "username": "username"}

    username = forms.CharField(
        label="Username",
        required=False,
        help_text=f"{rules.ISP_CREDENTIAL_MIN_LENGTH} to {rules.ISP_CREDENTIAL_MAX_LENGTH} letters or digits.",
    )
    field_order = ["auth_type", "authenticated_ips", "proxy_type", "username", "password"]

    def __init__(self, *args: Any, resource: Resource, **kwargs: Any) -> None:
        super().__init__(*args, resource=resource, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("username", self.current.get("username"))

    def clean_username(self) -> str:
        value = self.cleaned_data.get("username", "")
        if value:
            _raise_first(rules.isp_credential(value, "username"))
        return value

    def _credentials(self) -> tuple[tuple[str, str], ...]:
        return (("username", "username"), ("password", "password"))
