"""The customer API's self-service on Unknown Proxies tokens: the portal's ISP settings, through its form and rules."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from integrations.unknownproxies import actions
from integrations.unknownproxies.forms import IspTokenForm
from integrations.unknownproxies.kinds import ISP_TOKEN
from integrations.unknownproxies.views import FIELD_LABELS
from providers.registry import ActionInvalid, SelfServiceAction


class IspSettingsIn(BaseModel):
    """Only the fields sent are changed."""

    auth_type: Literal["user", "ip"] | None = Field(None, description="Username and password, or whitelisted IPs.")
    authenticated_ips: list[str] | None = Field(None, description="IPv4 addresses to whitelist.")
    proxy_type: Literal["http", "socks"] | None = None
    password: str | None = Field(None, description="A new password; letters and digits.")


def isp_settings(*, resource, data: dict, actor) -> str:
    posted = {name: value for name, value in data.items() if value is not None}
    if "authenticated_ips" in posted:
        posted["authenticated_ips"] = "\n".join(posted["authenticated_ips"])
    form = IspTokenForm(posted, resource=resource)
    if not form.is_valid():
        raise ActionInvalid({field: list(messages) for field, messages in form.errors.items()})
    if not form.changes:
        return "Nothing to change: the proxy already has these settings."
    actions.isp_token_modify(resource=resource, actor=actor, **form.action_kwargs())
    return "Saved: " + ", ".join(label for name, label in FIELD_LABELS.items() if name in form.changes) + "."


def self_service_actions() -> list[SelfServiceAction]:
    return [
        SelfServiceAction(
            "isp-settings", "ISP whitelist, authentication and protocol", ISP_TOKEN, isp_settings, IspSettingsIn
        )
    ]
