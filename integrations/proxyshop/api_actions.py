"""The customer API's self-service on proxy shop subscriptions: the portal's four actions, same forms and rules."""

from __future__ import annotations

from pydantic import BaseModel, Field

from integrations.proxyshop import actions
from integrations.proxyshop.forms import RotationPolicyForm, SwitchNetworkForm
from integrations.proxyshop.kinds import SHOP_SUBSCRIPTION
from providers.registry import ActionInvalid, SelfServiceAction


class RotationPolicyIn(BaseModel):
    minutes: int = Field(description="Rotate the IP every this many minutes (0 turns auto-rotation off).")


class SwitchNetworkIn(BaseModel):
    target_network: str = Field(min_length=1, max_length=100, description="A network id the subscription offers.")


def _invalid(form) -> ActionInvalid:
    return ActionInvalid({field: list(messages) for field, messages in form.errors.items()})


def new_credentials(*, resource, data: dict, actor) -> str:
    actions.subscription_change_credentials(resource=resource, actor=actor)
    return "New credentials issued: the old password no longer works."


def rotation_policy(*, resource, data: dict, actor) -> str:
    form = RotationPolicyForm({"rotation_policy": data.get("minutes")})
    if not form.is_valid():
        raise ActionInvalid({"minutes": list(form.errors.get("rotation_policy", ["is not valid"]))})
    minutes = form.cleaned_data["rotation_policy"]
    actions.subscription_set_rotation(resource=resource, actor=actor, minutes=minutes)
    return f"The IP now rotates every {minutes} minutes." if minutes else "Auto-rotation is off."


def rotate_now(*, resource, data: dict, actor) -> str:
    rotated = actions.subscription_rotate_now(resource=resource, actor=actor)
    ip = rotated.upstream.get("currentIp")  # raw: Subscription has no current IP field
    return f"The IP was changed: now {ip}." if ip else "The IP was changed."


def switch_network(*, resource, data: dict, actor) -> str:
    networks = actions.subscription_available_networks(resource=resource)
    form = SwitchNetworkForm(data, networks=[(network.id, network.network_label) for network in networks])
    if not form.is_valid():
        raise _invalid(form)
    switched = actions.subscription_switch_network(
        resource=resource, actor=actor, target_network=form.cleaned_data["target_network"]
    )
    subscription = switched.details
    label = subscription.network_label if subscription is not None else form.cleaned_data["target_network"]
    return f"Switched to {label}; the IP has changed."


def self_service_actions() -> list[SelfServiceAction]:
    return [
        SelfServiceAction("new-credentials", "New credentials", SHOP_SUBSCRIPTION, new_credentials),
        SelfServiceAction(
            "rotation-policy", "Auto-rotation policy", SHOP_SUBSCRIPTION, rotation_policy, RotationPolicyIn
        ),
        SelfServiceAction("rotate-now", "Rotate the IP now", SHOP_SUBSCRIPTION, rotate_now),
        SelfServiceAction("switch-network", "Switch network", SHOP_SUBSCRIPTION, switch_network, SwitchNetworkIn),
    ]
