"""The customer API's self-service on proxy accesses to our phones: the portal's actions, same forms and rules."""

from __future__ import annotations

from pydantic import BaseModel, Field

from integrations.iproxy import actions, forms
from integrations.iproxy.kinds import IPROXY_ACCESS
from providers.registry import ActionInvalid, ActionRefused, SelfServiceAction


class ConnectionIn(BaseModel):
    listen_service: str = Field(description="The protocol the proxy listens with (http or socks5).")
    allowed_ips: list[str] = Field(
        default_factory=list, description="IPv4 addresses let in without a login; empty: login and password."
    )


def new_credentials(*, resource, data: dict, actor) -> str:
    try:
        actions.access_new_credentials(access=resource, actor=actor)
    except actions.NotOnAPhone as exc:
        raise ActionRefused(str(exc)) from exc
    return "Your new password is ready; the old one no longer works."


def change_ip(*, resource, data: dict, actor) -> str:
    try:
        actions.access_change_ip(access=resource, actor=actor)
    except (actions.ChangeIpTooSoon, actions.NotOnAPhone) as exc:
        raise ActionRefused(str(exc)) from exc
    return "Your proxy is changing its IP now; it takes a few seconds."


def connection(*, resource, data: dict, actor) -> str:
    posted = {"listen_service": data.get("listen_service", ""), "allowed_ips": ", ".join(data.get("allowed_ips", []))}
    form = forms.PortalConnectionForm(posted, current=resource.details)
    if not form.is_valid():
        raise ActionInvalid({field: list(messages) for field, messages in form.errors.items()})
    try:
        actions.access_set_connection(
            access=resource,
            actor=actor,
            listen_service=form.cleaned_data["listen_service"],
            allowed_ips=form.cleaned_data["allowed_ips"],
        )
    except actions.NotOnAPhone as exc:
        raise ActionRefused(str(exc)) from exc
    if form.cleaned_data["allowed_ips"]:
        return "Saved: your proxy now lets in only the IPs you listed, without a login."
    return "Saved: your proxy now asks for its login and password."


def self_service_actions() -> list[SelfServiceAction]:
    return [
        SelfServiceAction("new-credentials", "New credentials", IPROXY_ACCESS, new_credentials),
        SelfServiceAction("change-ip", "Change the IP now", IPROXY_ACCESS, change_ip),
        SelfServiceAction("connection", "Protocol and IP whitelist", IPROXY_ACCESS, connection, ConnectionIn),
    ]
