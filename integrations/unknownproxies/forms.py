"""Forms for Unknown Proxies token actions; every check is a rule from `integrations.unknownproxies.rules`.

A form compares what was posted with the token as last mirrored and keeps only what differs, so a
field left as it was is not sent upstream. `changes` is keyed by form field name, which is also the
action's keyword and the client's: `action_kwargs()` hands them on unchanged. The mirrored token is read
through `resource.details` (its typed object, whose attributes carry the same names); the API's own
(camelCase) names appear only in `api_names`, to build the body the rules check.

Each field is checked by its own rule as it is cleaned; `clean()` then checks the request as a whole
(`rules.modify_request`: a token, something to change). The whole-body rule (`rules.modify_*_token`) is
left to the client, which runs it on everything it sends, so a form post runs it once, just before sending.
"""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import Customer
from integrations.unknownproxies import rules
from inventory import submissions
from inventory.models import Resource
from providers.http.rules import RuleViolation

GB = rules.GB


def _above_the_form(form: forms.Form, violations: list[RuleViolation]) -> None:
    """Put a request-wide rule's messages above the fields, naming the field when the rule names one."""
    for violation in violations:
        form.add_error(None, str(violation) if violation.field else violation.message)


def _raise_first(violations: list[RuleViolation]) -> None:
    if violations:
        raise forms.ValidationError([violation.message for violation in violations])


class _TokenForm(forms.Form):
    """Common to both token forms: the mirrored resource, and the changes as the action's keywords."""

    # Form field name (= action and client keyword) -> the API's name for it.
    api_names: dict[str, str] = {}
    # What the provider lets a modify request change (API names), for `rules.modify_request`.
    modifiable_fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, resource: Resource, **kwargs: Any) -> None:
        self.resource = resource
        # The token as last mirrored, typed; None when the mirrored JSON cannot be read (nothing is known).
        self.current = resource.details
        super().__init__(*args, **kwargs)
        self.changes: dict[str, Any] = {}

    def action_kwargs(self) -> dict[str, Any]:
        return dict(self.changes)

    def _current(self, name: str, default: Any = None) -> Any:
        """A field's value on the token as last mirrored (the typed token's attribute of the same name)."""
        return getattr(self.current, name, default)

    def _body(self, changes: dict[str, Any]) -> dict[str, Any]:
        """The request body the provider's rules check: the token plus the changes, by API name."""
        return {"token": self.resource.upstream_id, **{self.api_names[name]: v for name, v in changes.items()}}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        changes = self._changes(cleaned)
        self._check_request(changes)
        self.changes = changes
        return cleaned

    def _changes(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        """Field name -> new value, for the fields that differ from the mirror (what will be sent)."""
        raise NotImplementedError

    def _check_request(self, changes: dict[str, Any]) -> None:
        """The request as a whole (each field's value was checked as it was cleaned)."""
        _above_the_form(self, rules.modify_request(self._body(changes), self.modifiable_fields))

    def _posted(self, name: str) -> bool:
        # Small forms on the detail page post only some fields: the absent ones are left alone.
        return self.is_bound and name in self.data


class ResiTokenModifyForm(_TokenForm):
    """Staff: raise the data limit (whole GB), change the duration, choose the pools."""

    api_names = {"data_limit": "dataLimit", "duration_hours": "durationHours", "allowed_pools": "allowedPools"}
    modifiable_fields = rules.RESI_MODIFIABLE_FIELDS

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
    allowed_pools_shown = forms.ChoiceField(
        choices=[("1", "1")],
        widget=forms.HiddenInput,
        required=False,
        initial="1",
        error_messages={"invalid_choice": "This form was changed outside the page: reload the page and try again."},
    )

    def __init__(self, *args: Any, resource: Resource, pools: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, resource=resource, **kwargs)
        self.pool_ids = [pool_id for pool_id, _ in pools]
        self.fields["allowed_pools"].choices = pools
        if not self.is_bound:
            limit = self.current_data_limit
            self.initial.setdefault("data_limit", limit // GB if limit else None)
            self.initial.setdefault("duration_hours", self._current("duration_hours"))
            self.initial.setdefault("allowed_pools", list(self._current("allowed_pools", [])))

    @property
    def current_data_limit(self) -> int | None:
        return self.resource.data_limit_bytes or self._current("data_limit")

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

    def _changes(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if cleaned.get("data_limit") is not None and cleaned["data_limit"] != self.current_data_limit:
            changes["data_limit"] = cleaned["data_limit"]
        if cleaned.get("duration_hours") is not None and cleaned["duration_hours"] != self._current("duration_hours"):
            changes["duration_hours"] = cleaned["duration_hours"]
        if self._posted_pools() and set(cleaned["allowed_pools"]) != set(self._current("allowed_pools", [])):
            changes["allowed_pools"] = cleaned["allowed_pools"]
        return changes

    def _posted_pools(self) -> bool:
        return self._posted("allowed_pools") or self._posted("allowed_pools_shown")


class IspTokenForm(_TokenForm):
    """Customer self-service on an ISP token: IP whitelist or user/pass, http/socks, a new password."""

    api_names = {
        "auth_type": "authType",
        "authenticated_ips": "authenticatedIps",
        "proxy_type": "proxyType",
        "password": "password",
    }
    modifiable_fields = rules.ISP_MODIFIABLE_FIELDS

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
            self.initial.setdefault("auth_type", self._current("auth_type"))
            self.initial.setdefault("authenticated_ips", "\n".join(self._current("authenticated_ips", [])))
            self.initial.setdefault("proxy_type", self._current("proxy_type"))

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

    def _changes(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for name in ("auth_type", "proxy_type"):
            if self._posted(name) and cleaned.get(name) and cleaned[name] != self._current(name):
                changes[name] = cleaned[name]
        ips = cleaned.get("authenticated_ips", [])
        if self._posted("authenticated_ips") and ips != list(self._current("authenticated_ips", [])):
            changes["authenticated_ips"] = ips
        for name in self._credentials():
            if cleaned.get(name) and cleaned[name] != self._current(name):
                changes[name] = cleaned[name]
        return changes

    def _credentials(self) -> tuple[str, ...]:
        return ("password",)


class IspTokenModifyForm(IspTokenForm):
    """Staff: every field the provider lets us modify, the username too."""

    api_names = {**IspTokenForm.api_names, "username": "username"}

    username = forms.CharField(
        label="Username",
        required=False,
        help_text=f"{rules.ISP_CREDENTIAL_MIN_LENGTH} to {rules.ISP_CREDENTIAL_MAX_LENGTH} letters or digits.",
    )
    field_order = ["auth_type", "authenticated_ips", "proxy_type", "username", "password"]

    def __init__(self, *args: Any, resource: Resource, **kwargs: Any) -> None:
        super().__init__(*args, resource=resource, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("username", self._current("username"))

    def clean_username(self) -> str:
        value = self.cleaned_data.get("username", "")
        if value:
            _raise_first(rules.isp_credential(value, "username"))
        return value

    def _credentials(self) -> tuple[str, ...]:
        return ("username", "password")


# Creating tokens (staff, on the provider account) -------------------------------------------------------


def _customer_field() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=Customer.objects.filter(status=Customer.Status.ACTIVE).order_by("name"),
        required=False,
        empty_label="— nobody (keep in stock) —",
        help_text="The new token is assigned to this customer at once.",
    )


class _CreateForm(forms.Form):
    """A create: sent once (the hidden key), optionally straight to a customer."""

    request_key = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"] = _customer_field()
        if not self.is_bound:
            self.initial.setdefault("request_key", submissions.new_key())

    def action_kwargs(self) -> dict[str, Any]:
        return {name: value for name, value in self.cleaned_data.items() if name != "request_key"}


class ResiTokenCreateForm(_CreateForm):
    """A new residential token: whole GB, an optional 8-character username, hours of validity."""

    data_limit_gb = forms.IntegerField(
        label="Data limit (GB)", min_value=1, help_text="Whole gigabytes (1 GB = 1,000,000,000 bytes)."
    )
    username = forms.CharField(
        label="Username",
        required=False,
        help_text=f"Exactly {rules.RESI_USERNAME_LENGTH} letters or digits; leave empty for a generated one.",
    )
    duration_hours = forms.IntegerField(
        label="Duration (hours)",
        initial=0,
        help_text=f"0 means no time limit; at most {rules.MAX_DURATION_HOURS} (10 years).",
    )

    def clean_data_limit_gb(self) -> int:
        value = self.cleaned_data["data_limit_gb"]
        _raise_first(rules.data_limit(value * GB))
        return value

    def clean_username(self) -> str:
        value = self.cleaned_data.get("username", "")
        if value:
            _raise_first(rules.resi_username(value))
        return value

    def clean_duration_hours(self) -> int:
        value = self.cleaned_data["duration_hours"]
        _raise_first(rules.duration_hours(value))
        return value


class IspTokenCreateForm(_CreateForm):
    """A new ISP token: region, product, how many proxies, protocol, authentication and hours of validity."""

    region = forms.CharField(label="Region", max_length=20, help_text="The provider's region code, e.g. US.")
    product = forms.CharField(label="Product", max_length=40, help_text="The provider's product code, e.g. TICK.")
    quantity = forms.IntegerField(
        label="Number of proxies", initial=1, help_text=f"From 1 to {rules.MAX_ISP_QUANTITY}."
    )
    proxy_type = forms.ChoiceField(label="Protocol", choices=[("http", "HTTP"), ("socks", "SOCKS")])
    auth_type = forms.ChoiceField(
        label="Authentication",
        choices=[("user", "Username and password"), ("ip", "Whitelisted IPs")],
        help_text="With whitelisted IPs the token starts with 1.1.1.1 (the provider's default): set the real ones "
        "once it is active.",
    )
    duration_hours = forms.IntegerField(
        label="Duration (hours)", initial=720, help_text=f"0 means no time limit; at most {rules.MAX_DURATION_HOURS}."
    )

    def clean_region(self) -> str:
        value = self.cleaned_data["region"].strip()
        _raise_first(rules.non_empty_text(value, "region"))
        return value

    def clean_product(self) -> str:
        value = self.cleaned_data["product"].strip()
        _raise_first(rules.non_empty_text(value, "product"))
        return value

    def clean_quantity(self) -> int:
        value = self.cleaned_data["quantity"]
        _raise_first(rules.isp_quantity(value))
        return value

    def clean_duration_hours(self) -> int:
        value = self.cleaned_data["duration_hours"]
        _raise_first(rules.duration_hours(value))
        return value
