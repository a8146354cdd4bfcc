"""Staff and portal actions on proxyshop resources (each view reads: resource -> form -> action -> message).

Staff and customers get the same four actions on a subscription: new credentials, rotation policy,
rotate now and switch network. Rotating goes through us: the shop's rotate link is never shown.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import customer_required, staff_required
from integrations.proxyshop import actions as services
from integrations.proxyshop.forms import RotationPolicyForm, SwitchNetworkForm
from integrations.proxyshop.kinds import SHOP_SUBSCRIPTION
from inventory.access import resource_for_customer, resource_for_staff
from inventory.models import Resource
from providers.http import errors

UNKNOWN_OUTCOME = (
    "We could not confirm the change with the proxy shop: it may or may not have been applied. "
    "The next sync will show the truth; check this page again in a few minutes before trying again."
)


def _subscription(resource_id: int) -> Resource:
    return resource_for_staff(resource_id, kind=SHOP_SUBSCRIPTION)


def _own_subscription(request, resource_id: int) -> Resource:
    return resource_for_customer(request.user, resource_id, kind=SHOP_SUBSCRIPTION)


# The flows, shared by staff and portal: `area` is "staff" or "portal" ---------------------------------
#
# Each one reads top to bottom: the resource (loaded by the view below) -> the form -> the action ->
# a message -> back to the resource's page. A failure upstream becomes a message, never a 500.


def _back(area: str, resource: Resource) -> str:
    name = "inventory:resource-detail" if area == "staff" else "portal:proxy-detail"
    return reverse(name, args=[resource.pk])


def _form_page(request, area: str, resource: Resource, form, title: str, submit: str):
    context = {"resource": resource, "form": form, "title": title, "submit": submit, "back_url": _back(area, resource)}
    return render(request, f"{area}/actions/form.html", context)


def _refused(request, exc: errors.ProviderError) -> None:
    messages.error(request, f"The change was refused: {exc.message}")


def _change_credentials(request, area: str, resource: Resource):
    try:
        services.subscription_change_credentials(resource=resource, actor=request.user)
    except errors.UnknownOutcomeError:
        messages.warning(request, UNKNOWN_OUTCOME)
    except errors.ProviderError as exc:
        _refused(request, exc)
    else:
        messages.success(request, "New credentials issued: the old password no longer works.")
    return redirect(_back(area, resource))


def _set_rotation(request, area: str, resource: Resource):
    if request.method == "GET":
        subscription = resource.details
        form = RotationPolicyForm(initial={"rotation_policy": (subscription and subscription.rotation_policy) or 0})
        return _form_page(request, area, resource, form, "Auto-rotation", "Save")
    form = RotationPolicyForm(request.POST)
    if not form.is_valid():
        return _form_page(request, area, resource, form, "Auto-rotation", "Save")
    minutes = form.cleaned_data["rotation_policy"]
    try:
        services.subscription_set_rotation(resource=resource, actor=request.user, minutes=minutes)
    except errors.UnknownOutcomeError:
        messages.warning(request, UNKNOWN_OUTCOME)
    except errors.ProviderError as exc:
        _refused(request, exc)
    else:
        done = f"The IP now rotates every {minutes} minutes." if minutes else "Auto-rotation is off."
        messages.success(request, done)
    return redirect(_back(area, resource))


def _rotate_now(request, area: str, resource: Resource):
    try:
        rotated = services.subscription_rotate_now(resource=resource, actor=request.user)
    except errors.UnknownOutcomeError:
        messages.warning(request, UNKNOWN_OUTCOME)
    except errors.ProviderError as exc:
        _refused(request, exc)
    else:
        ip = rotated.upstream.get("currentIp")  # raw: Subscription has no current IP field
        messages.success(request, f"The IP was changed: now {ip}." if ip else "The IP was changed.")
    return redirect(_back(area, resource))


def _switch_network(request, area: str, resource: Resource):
    try:
        networks = services.subscription_available_networks(resource=resource)
    except errors.ProviderError as exc:
        messages.error(request, f"Could not load the networks: {exc.message}")
        return redirect(_back(area, resource))
    choices = [(network.id, f"{network.network_label} ({network.country})") for network in networks]
    form = SwitchNetworkForm(request.POST if request.method == "POST" else None, networks=choices)
    if request.method != "POST" or not form.is_valid():
        return _form_page(request, area, resource, form, "Switch network", "Switch")
    target = form.cleaned_data["target_network"]
    try:
        switched = services.subscription_switch_network(resource=resource, actor=request.user, target_network=target)
    except errors.UnknownOutcomeError:
        messages.warning(request, UNKNOWN_OUTCOME)
    except errors.ProviderError as exc:
        _refused(request, exc)
    else:
        subscription = switched.details
        label = subscription.network_label if subscription is not None else target
        messages.success(request, f"Switched to {label}; the IP has changed.")
    return redirect(_back(area, resource))


# Staff ------------------------------------------------------------------------------------------------


@staff_required
@require_POST
def staff_change_credentials(request, resource_id: int):
    return _change_credentials(request, "staff", _subscription(resource_id))


@staff_required
@require_http_methods(["GET", "POST"])
def staff_set_rotation(request, resource_id: int):
    return _set_rotation(request, "staff", _subscription(resource_id))


@staff_required
@require_POST
def staff_rotate_now(request, resource_id: int):
    return _rotate_now(request, "staff", _subscription(resource_id))


@staff_required
@require_http_methods(["GET", "POST"])
def staff_switch_network(request, resource_id: int):
    return _switch_network(request, "staff", _subscription(resource_id))


# Portal -----------------------------------------------------------------------------------------------


@customer_required
@require_POST
def portal_change_credentials(request, resource_id: int):
    return _change_credentials(request, "portal", _own_subscription(request, resource_id))


@customer_required
@require_http_methods(["GET", "POST"])
def portal_set_rotation(request, resource_id: int):
    return _set_rotation(request, "portal", _own_subscription(request, resource_id))


@customer_required
@require_POST
def portal_rotate_now(request, resource_id: int):
    return _rotate_now(request, "portal", _own_subscription(request, resource_id))


@customer_required
@require_http_methods(["GET", "POST"])
def portal_switch_network(request, resource_id: int):
    return _switch_network(request, "portal", _own_subscription(request, resource_id))
