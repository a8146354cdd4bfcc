"""Staff and portal actions on iproxy resources (views stay thin: form -> service -> message).

Staff run our phones: create one, change its settings, prolongate its plan, reboot it, change its IP,
and open, change or close the proxy accesses on it. A customer acts only on their own proxy access:
new credentials, change the phone's IP now (through us), and traffic and uptime charts drawn here as
inline SVG (no script: the CSP allows none inline).
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import customer_required, owner_required, staff_required
from integrations.iproxy import actions as services
from integrations.iproxy import forms, mirror
from integrations.iproxy.kinds import IPROXY, IPROXY_ACCESS, IPROXY_CONNECTION
from inventory.access import resource_for_customer, resource_for_staff
from inventory.models import Resource, ResourceStatus
from ops.units import format_gb as gb
from providers.http import errors
from providers.models import ProviderAccount

CONNECTION = IPROXY_CONNECTION
ACCESS = IPROXY_ACCESS


def _unconfirmed(request, doing: str, *, customer: bool = False) -> None:
    """The message for a call whose answer was lost: it may or may not have worked."""
    messages.warning(
        request,
        f"We could not confirm that {doing} worked: iProxy did not answer in time. "
        + (
            "Please check again in a few minutes before retrying."
            if customer
            else "The next sync shows the truth; check it before trying again."
        ),
    )


def _refused(request, doing: str, exc: errors.ProviderError) -> None:
    messages.error(request, f"iProxy refused to {doing}: {exc.message}")


@dataclass
class _Outcome:
    ok: bool = False


@contextmanager
def _reporting(
    request, doing: str, *, refusals: tuple[type[Exception], ...] = (), customer: bool = False
) -> Iterator[_Outcome]:
    """Turn the upstream's answer into one message; `outcome.ok` says whether the change is confirmed.

    `refusals` are our own refusals before any call (their text is the message); `customer` words a
    lost answer for a customer rather than for staff.
    """
    outcome = _Outcome()
    try:
        yield outcome
    except errors.UnknownOutcomeError:
        _unconfirmed(request, doing, customer=customer)
    except errors.ProviderError as exc:
        _refused(request, doing, exc)
    except refusals as exc:
        messages.error(request, str(exc))
    else:
        outcome.ok = True


def _form_errors(form) -> str:
    return "; ".join(e for errs in form.errors.values() for e in errs)


# Staff: a phone's page ---------------------------------------------------------------------------------


def _render_connection(request, connection: Resource, status: int = 200, **bound) -> Any:
    children = connection.children.select_related("customer").order_by("status", "label", "id")
    accesses = []
    for child in children:
        form = bound.get(f"access_{child.pk}")
        if form is None and child.status != ResourceStatus.VANISHED:
            form = forms.AccessUpdateForm(current=child.details, expires_at=child.expires_at)
        accesses.append((child, form))
    phone = connection.details
    context = _phone_context(connection, tab="overview")
    context |= {
        "settings_form": bound.get("settings_form")
        or forms.ConnectionSettingsForm(current=services.connection_settings_current(connection)),
        "prolongate_form": bound.get("prolongate_form") or forms.ProlongateForm(),
        "change_plan_form": bound.get("change_plan_form") or forms.ChangePlanForm(),
        "basic_info_form": bound.get("basic_info_form") or forms.BasicInfoForm(current=phone),
        "capacity_form": bound.get("capacity_form")
        or forms.CapacityForm.for_phone(
            max_ports=services.phone_capacity(connection), plan_price_cents=services.phone_plan_price(connection)
        ),
        "push_form": bound.get("push_form") or forms.CommandPushForm(),
        "recreate_form": bound.get("recreate_form")
        or forms.RecreateForm(current=phone, connection_id=connection.upstream_id),
        "delete_form": bound.get("delete_form") or forms.DeleteConnectionForm(),
        "delete_refusal": bound.get("delete_refusal"),
        "revealed": bound.get("revealed"),
        "access_form": bound.get("access_form") or forms.AccessCreateForm(),
        "command_form": forms.CommandForm(auto_id=False),
        "accesses": accesses,
        "disruptive": sorted(services.DISRUPTIVE_COMMANDS),
    }
    return _no_store(render(request, "iproxy/connection.html", context, status=status))


TABS = (
    ("overview", "Overview", "inventory:iproxy-connection"),
    ("ovpn", "OpenVPN", "inventory:iproxy-ovpn"),
    ("team", "Team access", "inventory:iproxy-team"),
    ("links", "Action links", "inventory:iproxy-links"),
    ("sms", "SMS", "inventory:iproxy-sms"),
    ("statistics", "Statistics", "inventory:iproxy-statistics"),
)


def _phone_context(connection: Resource, *, tab: str) -> dict[str, Any]:
    """What the header and tabs of every page of a phone need."""
    phone = connection.details
    open_accesses = connection.children.filter(vanished_at__isnull=True)
    used = open_accesses.count()
    return {
        "resource": connection,
        "phone": phone,
        "plan": phone.active_plan if phone is not None else None,
        "online_status": mirror.online_status(connection),
        "tabs": TABS,
        "tab": tab,
        "capacity": services.phone_capacity(connection),
        "ports_used": used,
        "ports_held": open_accesses.filter(customer__isnull=False).count(),
    }


def _no_store(response):
    # Pages that may carry a secret shown once (a PIN, a key, a link) are never cached.
    response["Cache-Control"] = "no-store"
    return response


@staff_required
def connection_page(request, resource_id: int):
    return _render_connection(request, resource_for_staff(resource_id, kind=CONNECTION))


@staff_required
@require_http_methods(["GET", "POST"])
def connection_new(request, account_id: int):
    account = get_object_or_404(ProviderAccount, pk=account_id, kind=IPROXY)
    form = forms.ConnectionCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with _reporting(request, "create the connection") as outcome:
            resource = services.connection_create(
                account=account,
                actor=request.user,
                name=data["name"],
                description=data["description"] or None,
                country=form.body.get("country"),
                city=form.body.get("city"),
                server_id=form.body.get("server_id"),
                prolongation_enabled=data["prolongation_enabled"] or None,
            )
        if outcome.ok:
            messages.success(request, f"Connection {resource.label} created; set up the phone with the iProxy app.")
            return redirect("inventory:iproxy-connection", resource_id=resource.pk)
    return render(request, "iproxy/connection_new.html", {"form": form, "account": account})


@staff_required
@require_POST
def connection_settings(request, resource_id: int):
    connection = resource_for_staff(resource_id, kind=CONNECTION)
    form = forms.ConnectionSettingsForm(request.POST, current=services.connection_settings_current(connection))
    if not form.is_valid():
        return _render_connection(request, connection, status=400, settings_form=form)
    changes = form.changes()
    with _reporting(request, "change the settings") as outcome:
        services.connection_settings_update(connection=connection, changes=changes, actor=request.user)
    if outcome.ok:
        messages.success(request, f"Saved: {', '.join(forms.SETTINGS_LABELS.get(k, k) for k in changes)}.")
    return redirect("inventory:iproxy-connection", resource_id=connection.pk)


@staff_required
@require_POST
def connection_prolongate(request, resource_id: int):
    connection = resource_for_staff(resource_id, kind=CONNECTION)
    form = forms.ProlongateForm(request.POST)
    if not form.is_valid():
        return _render_connection(request, connection, status=400, prolongate_form=form)
    days = form.cleaned_data["days"]
    coupon_code = form.cleaned_data["coupon_code"] or None
    with _reporting(request, "prolongate the plan") as outcome:
        resource = services.connection_prolongate(
            connection=connection, days=days, coupon_code=coupon_code, actor=request.user
        )
    if outcome.ok:
        until = timezone.localtime(resource.expires_at).strftime("%Y-%m-%d %H:%M") if resource.expires_at else "?"
        messages.success(request, f"Plan prolongated by {days} days; it now runs until {until}.")
    return redirect("inventory:iproxy-connection", resource_id=connection.pk)


@staff_required
@require_POST
def connection_reboot(request, resource_id: int):
    return _phone_command(request, resource_id, reboot=True)


@staff_required
@require_POST
def connection_change_ip(request, resource_id: int):
    return _phone_command(request, resource_id, reboot=False)


def _phone_command(request, resource_id: int, *, reboot: bool):
    """Reboot or change IP: the same form and outcome messages, one action each."""
    connection = resource_for_staff(resource_id, kind=CONNECTION)
    form = forms.CommandForm(request.POST)
    if not form.is_valid():
        # An unknown way to send it is refused, not replaced by the default: nothing is sent.
        messages.error(request, _form_errors(form))
        return redirect("inventory:iproxy-connection", resource_id=connection.pk)
    with _reporting(request, "reboot the phone" if reboot else "change the IP") as outcome:
        if reboot:
            services.connection_reboot(connection=connection, actor=request.user, via=form.cleaned_data["via"])
        else:
            services.connection_change_ip(connection=connection, actor=request.user, via=form.cleaned_data["via"])
    if outcome.ok:
        if reboot:
            messages.success(request, "Reboot sent: the phone is back in about a minute.")
        else:
            messages.success(request, "IP change sent: the phone gets a new IP in a few seconds.")
    return redirect("inventory:iproxy-connection", resource_id=connection.pk)


@staff_required
@require_POST
def access_create(request, resource_id: int):
    connection = resource_for_staff(resource_id, kind=CONNECTION)
    form = forms.AccessCreateForm(request.POST)
    if not form.is_valid():
        return _render_connection(request, connection, status=400, access_form=form)
    with _reporting(request, "open the proxy access") as outcome:
        resource = services.access_create(connection=connection, actor=request.user, **form.service_kwargs())
    if outcome.ok:
        messages.success(request, f"Proxy access {resource.label} is open and in stock.")
    return redirect("inventory:iproxy-connection", resource_id=connection.pk)


@staff_required
@require_POST
def access_update(request, resource_id: int):
    access = resource_for_staff(resource_id, kind=ACCESS)
    back = _back_for(access)
    form = forms.AccessUpdateForm(request.POST, current=access.details, expires_at=access.expires_at)
    if not form.is_valid():
        if access.parent is not None:
            return _render_connection(request, access.parent, status=400, **{f"access_{access.pk}": form})
        messages.error(request, _form_errors(form))
        return back
    with _reporting(request, "change the proxy access", refusals=(services.NotOnAPhone,)) as outcome:
        services.access_update(access=access, actor=request.user, **form.changes())
    if outcome.ok:
        messages.success(request, f"Proxy access {access.label} saved.")
    return back


@staff_required
@require_POST
def access_delete(request, resource_id: int):
    access = resource_for_staff(resource_id, kind=ACCESS)
    with _reporting(request, "close the proxy access", refusals=(services.NotOnAPhone,)) as outcome:
        services.access_delete(access=access, actor=request.user)
    if outcome.ok:
        messages.success(request, f"Proxy access {access.label} is closed.")
    return _back_for(access)


def _back_for(access: Resource):
    if access.parent_id is not None:
        return redirect("inventory:iproxy-connection", resource_id=access.parent_id)
    return redirect("inventory:resource-detail", resource_id=access.pk)


# Customers: self-service on their own access -------------------------------------------------------------


def _own_live_access(view):
    """A customer's change gets their own proxy access as `access`; one that has ended is refused here."""

    @functools.wraps(view)
    def wrapped(request, resource_id: int):
        access = resource_for_customer(request.user, resource_id, kind=ACCESS)
        if access.status == ResourceStatus.VANISHED:
            messages.error(request, "This proxy has ended.")
            return redirect("portal:proxy-detail", resource_id=access.pk)
        return view(request, access)

    return wrapped


@customer_required
@require_POST
@_own_live_access
def portal_new_credentials(request, access: Resource):
    with _reporting(request, "make new credentials", refusals=(services.NotOnAPhone,), customer=True) as outcome:
        services.access_new_credentials(access=access, actor=request.user)
    if outcome.ok:
        messages.success(request, "Your new password is ready below; the old one no longer works.")
    return redirect("portal:proxy-detail", resource_id=access.pk)


@customer_required
@require_POST
@_own_live_access
def portal_change_ip(request, access: Resource):
    refusals = (services.ChangeIpTooSoon, services.NotOnAPhone)
    with _reporting(request, "change the IP", refusals=refusals, customer=True) as outcome:
        services.access_change_ip(access=access, actor=request.user)
    if outcome.ok:
        messages.success(request, "Your proxy is changing its IP now; it takes a few seconds.")
    return redirect("portal:proxy-detail", resource_id=access.pk)


@customer_required
@require_POST
@_own_live_access
def portal_connection(request, access: Resource):
    form = forms.PortalConnectionForm(request.POST, current=access.details)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("portal:proxy-detail", resource_id=access.pk)
    doing, refusals = "change how your proxy is reached", (services.NotOnAPhone,)
    with _reporting(request, doing, refusals=refusals, customer=True) as outcome:
        services.access_set_connection(
            access=access,
            actor=request.user,
            listen_service=form.cleaned_data["listen_service"],
            allowed_ips=form.cleaned_data["allowed_ips"],
        )
    if outcome.ok:
        if form.cleaned_data["allowed_ips"]:
            messages.success(request, "Saved: your proxy now lets in only the IPs you listed, without a login.")
        else:
            messages.success(request, "Saved: your proxy now asks for the login and password shown below.")
    return redirect("portal:proxy-detail", resource_id=access.pk)


@customer_required
def portal_statistics(request, resource_id: int):
    access = resource_for_customer(request.user, resource_id, kind=ACCESS)
    stats = None
    if access.parent is not None and access.status != ResourceStatus.VANISHED:
        try:
            stats = services.connection_statistics(connection=access.parent)
        except errors.ProviderError:
            messages.error(request, "Statistics are unavailable right now; please try again in a minute.")
    context: dict[str, Any] = {"resource": access, "stats": stats}
    if stats is not None:
        context |= {
            "traffic": traffic_chart(stats),
            "uptime": uptime_strip(stats),
            "ip_history": sorted(stats.ip_history, key=lambda entry: entry.date, reverse=True),
        }
    return render(request, "iproxy/portal_statistics.html", context)


# Charts: geometry for inline SVG, drawn by the template ------------------------------------------------

CHART_HEIGHT = 120
BAR_WIDTH = 14
BAR_GAP = 4
CELL_WIDTH = 20


@dataclass(frozen=True)
class Bar:
    x: int
    in_y: float
    in_height: float
    out_y: float
    out_height: float
    title: str
    label: str


def traffic_chart(stats: services.Statistics) -> dict[str, Any]:
    """One stacked bar per day (received at the bottom, sent on top), scaled to the busiest day."""
    days = stats.traffic.daily_stats
    peak = max((day.in_bytes + day.out_bytes for day in days), default=0) or 1
    bars = []
    step = BAR_WIDTH + BAR_GAP
    for index, day in enumerate(days):
        in_height = day.in_bytes / peak * CHART_HEIGHT
        out_height = day.out_bytes / peak * CHART_HEIGHT
        date = day.date.date()
        bars.append(
            Bar(
                x=index * step,
                in_y=round(CHART_HEIGHT - in_height, 2),
                in_height=round(in_height, 2),
                out_y=round(CHART_HEIGHT - in_height - out_height, 2),
                out_height=round(out_height, 2),
                title=f"{date:%Y-%m-%d}: {gb(day.in_bytes)} received, {gb(day.out_bytes)} sent",
                label=f"{date:%d %b}" if index % 7 == 0 or index == len(days) - 1 else "",
            )
        )
    return {
        "bars": bars,
        "width": max(len(days) * step, step),
        "height": CHART_HEIGHT,
        "label_y": CHART_HEIGHT + 14,
        "svg_height": CHART_HEIGHT + 20,
        "peak": gb(peak if days else 0),
        "total_in": gb(stats.traffic.total_in_bytes),
        "total_out": gb(stats.traffic.total_out_bytes),
        "days": len(days),
    }


@dataclass(frozen=True)
class Cell:
    x: int
    status: str  # "up", "down" or "none"
    title: str
    label: str


def uptime_strip(stats: services.Statistics) -> dict[str, Any]:
    """The last 24 hours, one cell per hour: up, down, or no data."""
    by_hour = {
        entry.date.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0): entry for entry in stats.uptime
    }
    last = stats.fetched_at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    cells = []
    for index in range(24):
        hour = last - dt.timedelta(hours=23 - index)
        entry = by_hour.get(hour)
        status = "none" if entry is None else ("up" if entry.status.upper() == "UP" else "down")
        local = timezone.localtime(hour)
        cells.append(
            Cell(
                x=index * CELL_WIDTH,
                status=status,
                title=f"{local:%Y-%m-%d %H}:00 — {entry.status if entry else 'no data'}",
                label=f"{local:%H}:00" if index % 6 == 0 else "",
            )
        )
    known = [cell for cell in cells if cell.status != "none"]
    up = sum(cell.status == "up" for cell in known)
    return {
        "cells": cells,
        "width": 24 * CELL_WIDTH,
        "percent": f"{up / len(known) * 100:.0f}%" if known else "—",
        "up_hours": up,
        "known_hours": len(known),
    }


# Staff: the rest of a phone's console (issue 10) --------------------------------------------------------


def _to_phone(connection: Resource, tab: str = "overview", anchor: str = ""):
    name = dict((key, url) for key, _, url in TABS)[tab]
    return redirect(reverse(name, kwargs={"resource_id": connection.pk}) + (f"#{anchor}" if anchor else ""))


def _live_phone(tab: str = "overview"):
    """A view that changes a phone gets it as `connection`; one that has ended upstream is refused here.

    The refusal is a message and a redirect back to the phone's `tab`: nothing is sent upstream.
    """

    def decorate(view):
        @functools.wraps(view)
        def wrapped(request, resource_id: int):
            connection = resource_for_staff(resource_id, kind=CONNECTION)
            if connection.status == ResourceStatus.VANISHED:
                messages.error(request, "This connection no longer exists upstream.")
                return _to_phone(connection, tab)
            return view(request, connection)

        return wrapped

    return decorate


@staff_required
@require_POST
def connection_basic_info(request, resource_id: int):
    connection = resource_for_staff(resource_id, kind=CONNECTION)
    form = forms.BasicInfoForm(request.POST, current=connection.details)
    if not form.is_valid():
        return _render_connection(request, connection, status=400, basic_info_form=form)
    body = form.body()
    with _reporting(request, "rename the connection") as outcome:
        services.connection_basic_info_update(
            connection=connection, actor=request.user, name=body.get("name"), description=body.get("description")
        )
    if outcome.ok:
        messages.success(request, "Name and description saved.")
    return _to_phone(connection, anchor="basic-info")


@owner_required
@require_POST
def connection_change_plan(request, resource_id: int):
    connection = resource_for_staff(resource_id, kind=CONNECTION)
    form = forms.ChangePlanForm(request.POST)
    if not form.is_valid():
        return _render_connection(request, connection, status=400, change_plan_form=form)
    body = form.body()
    with _reporting(request, "change the plan") as outcome:
        _, change = services.connection_change_plan(
            connection=connection, plan_id=body["plan_id"], coupon_code=body.get("coupon_code"), actor=request.user
        )
    if outcome.ok:
        until = timezone.localtime(change.active_plan.expires_at).strftime("%Y-%m-%d %H:%M")
        coupon = ""
        if body.get("coupon_code"):
            coupon = " The coupon was applied." if change.is_coupon_applied else " The coupon was not applied."
        messages.success(request, f"The phone is now on plan {change.active_plan.id}, paid until {until}.{coupon}")
    return _to_phone(connection, anchor="plan")


@owner_required
@require_POST
def connection_recreate(request, resource_id: int):
    connection = resource_for_staff(resource_id, kind=CONNECTION)
    form = forms.RecreateForm(request.POST, connection_id=connection.upstream_id)
    if not form.is_valid():
        return _render_connection(request, connection, status=400, recreate_form=form)
    body = form.body()
    with _reporting(request, "recreate the connection") as outcome:
        new = services.connection_recreate(
            connection=connection,
            actor=request.user,
            name=body["name"],
            server_id=body["server_id"],
            description=body.get("description"),
            prolongation_enabled=body.get("prolongation_enabled"),
        )
    if not outcome.ok:
        return _to_phone(connection, anchor="recreate")
    messages.success(request, f"Recreated as {new.upstream_id}, with the plan; set the phone up again in the app.")
    return _to_phone(new)


@owner_required
@require_POST
def connection_delete(request, resource_id: int):
    connection = resource_for_staff(resource_id, kind=CONNECTION)
    form = forms.DeleteConnectionForm(request.POST)
    if not form.is_valid():
        return _render_connection(request, connection, status=400, delete_form=form)
    try:
        with _reporting(request, "delete the connection") as outcome:
            services.connection_delete(connection=connection, reason=form.body()["reason"], actor=request.user)
    except services.HasActivePlan as exc:
        return _render_connection(request, connection, status=409, delete_form=form, delete_refusal=str(exc))
    if outcome.ok:
        messages.success(request, f"Connection {connection.label} deleted upstream.")
        return redirect("inventory:resource-detail", resource_id=connection.pk)
    return _to_phone(connection, anchor="delete")


@staff_required
@require_POST
@_live_phone()
def connection_command(request, connection: Resource):
    form = forms.CommandPushForm(request.POST)
    if not form.is_valid():
        return _render_connection(request, connection, status=400, push_form=form)
    command = form.cleaned_data["command"]
    label = forms.COMMAND_LABELS[command]
    with _reporting(request, f"send “{label}”") as outcome:
        sent = services.connection_push_command(
            connection=connection, command=command, enabled=form.cleaned_data.get("enabled"), actor=request.user
        )
    if outcome.ok:
        messages.success(request, f"{label}: {sent.message}.")
    return _to_phone(connection, anchor="commands")


@owner_required
@require_POST
@_live_phone()
def connection_pin_code(request, connection: Resource):
    with _reporting(request, "make a PIN code") as outcome:
        pin = services.connection_new_pin_code(connection=connection, actor=request.user)
    if not outcome.ok:
        return _to_phone(connection, anchor="keys")
    until = timezone.localtime(pin.expires_at).strftime("%Y-%m-%d %H:%M")
    revealed = {"title": "PIN code for the iProxy app", "value": pin.pincode, "note": f"Valid until {until}."}
    return _render_connection(request, connection, revealed=revealed)


@owner_required
@require_POST
@_live_phone()
def connection_api_key(request, connection: Resource):
    with _reporting(request, "make a connection API key") as outcome:
        key = services.connection_new_api_key(connection=connection, actor=request.user)
    if not outcome.ok:
        return _to_phone(connection, anchor="keys")
    revealed = {
        "title": "Connection API key",
        "value": key.api_key,
        "note": "The previous key of this connection no longer works. We do not keep this one: copy it now.",
    }
    return _render_connection(request, connection, revealed=revealed)


@owner_required
@require_POST
def connection_capacity(request, resource_id: int):
    connection = resource_for_staff(resource_id, kind=CONNECTION)
    form = forms.CapacityForm(request.POST)
    if not form.is_valid():
        return _render_connection(request, connection, status=400, capacity_form=form)
    services.phone_capacity_set(
        connection=connection,
        max_ports=form.cleaned_data["max_ports"],
        plan_price_cents=form.cleaned_data["plan_price"],
        actor=request.user,
    )
    messages.success(request, f"The shop sells up to {form.cleaned_data['max_ports']} ports on this phone.")
    return _to_phone(connection, anchor="capacity")


# OpenVPN accesses ----------------------------------------------------------------------------------------


def _render_ovpn(request, connection: Resource, status: int = 200, **bound) -> Any:
    context = _phone_context(connection, tab="ovpn")
    ovpns, unavailable = [], ""
    try:
        ovpns = services.ovpn_list(connection=connection) if connection.status != ResourceStatus.VANISHED else []
    except errors.ProviderError as exc:
        unavailable = f"iProxy did not list the OpenVPN accesses: {exc.message}"
    rows = []
    for ovpn in ovpns:
        form = bound.get(f"ovpn_{ovpn.id}") or forms.OvpnUpdateForm(current=ovpn)
        rows.append((ovpn, form))
    context |= {
        "ovpns": rows,
        "unavailable": unavailable,
        "create_form": bound.get("create_form") or forms.OvpnCreateForm(),
    }
    return render(request, "iproxy/connection_ovpn.html", context, status=status)


@staff_required
def connection_ovpn(request, resource_id: int):
    return _render_ovpn(request, resource_for_staff(resource_id, kind=CONNECTION))


@staff_required
@require_POST
@_live_phone("ovpn")
def ovpn_create(request, connection: Resource):
    form = forms.OvpnCreateForm(request.POST)
    if not form.is_valid():
        return _render_ovpn(request, connection, status=400, create_form=form)
    body = form.body()
    with _reporting(request, "open the OpenVPN access") as outcome:
        created = services.ovpn_create(
            connection=connection, name=body["name"], description=body.get("description"), actor=request.user
        )
    if outcome.ok:
        messages.success(request, f"OpenVPN access “{created.name}” is open: download its config below.")
    return _to_phone(connection, "ovpn")


def _ovpn_on(request, connection: Resource, ovpn_id: str) -> Any:
    """The phone's OpenVPN access with this id, read upstream now (None with a message when it is not there)."""
    try:
        found = next((o for o in services.ovpn_list(connection=connection) if o.id == ovpn_id), None)
    except errors.ProviderError as exc:
        _refused(request, "list the OpenVPN accesses", exc)
        return None
    if found is None:
        messages.error(request, "That OpenVPN access is not on this phone any more.")
    return found


@staff_required
@require_POST
@_live_phone("ovpn")
def ovpn_update(request, connection: Resource):
    ref = forms.OvpnRefForm({"ovpn": _posted_ovpn(request)})
    if not ref.is_valid():
        messages.error(request, _form_errors(ref))
        return _to_phone(connection, "ovpn")
    current = _ovpn_on(request, connection, ref.cleaned_data["ovpn"])
    if current is None:
        return _to_phone(connection, "ovpn")
    form = forms.OvpnUpdateForm(request.POST, current=current)
    if not form.is_valid():
        return _render_ovpn(request, connection, status=400, **{f"ovpn_{current.id}": form})
    with _reporting(request, "change the OpenVPN access") as outcome:
        services.ovpn_update(connection=connection, ovpn_id=current.id, actor=request.user, **form.changes())
    if outcome.ok:
        messages.success(request, f"OpenVPN access “{current.name}” saved.")
    return _to_phone(connection, "ovpn")


def _posted_ovpn(request) -> str:
    """The OpenVPN id of a posted form, prefixed (an update form) or not (delete, download)."""
    for key, value in request.POST.items():
        if key == "ovpn" or (key.startswith("ovpn-") and key.endswith("-ovpn")):
            return value
    return ""


@staff_required
@require_POST
@_live_phone("ovpn")
def ovpn_delete(request, connection: Resource):
    ref = forms.OvpnRefForm(request.POST)
    if not ref.is_valid():
        messages.error(request, _form_errors(ref))
        return _to_phone(connection, "ovpn")
    with _reporting(request, "close the OpenVPN access") as outcome:
        services.ovpn_delete(connection=connection, ovpn_id=ref.cleaned_data["ovpn"], actor=request.user)
    if outcome.ok:
        messages.success(request, "OpenVPN access closed: its config no longer connects.")
    return _to_phone(connection, "ovpn")


@staff_required
@require_POST
@_live_phone("ovpn")
def ovpn_download(request, connection: Resource):
    """The .ovpn file as an attachment, only when its sha1 matched (the client checks it)."""
    ref = forms.OvpnRefForm(request.POST)
    if not ref.is_valid():
        messages.error(request, _form_errors(ref))
        return _to_phone(connection, "ovpn")
    ovpn_id = ref.cleaned_data["ovpn"]
    try:
        config = services.ovpn_config(connection=connection, ovpn_id=ovpn_id, actor=request.user)
    except errors.MalformedResponseError as exc:
        messages.error(request, f"The config from iProxy failed its check and was not handed out: {exc.message}")
        return _to_phone(connection, "ovpn")
    except errors.ProviderError as exc:
        _refused(request, "hand out the OpenVPN config", exc)
        return _to_phone(connection, "ovpn")
    response = HttpResponse(config.config, content_type="application/x-openvpn-profile")
    response["Content-Disposition"] = f'attachment; filename="{connection.upstream_id}-{ovpn_id}.ovpn"'
    response["X-Config-SHA1"] = config.sha1
    return _no_store(response)


# Team access ----------------------------------------------------------------------------------------------


def _render_team(request, connection: Resource, status: int = 200, **bound) -> Any:
    context = _phone_context(connection, tab="team")
    phone = context["phone"]
    members = []
    for member in phone.shared_users if phone is not None else ():
        key = f"member_{forms.member_prefix(member.email)}"
        members.append(
            (member, bound.get(key) or forms.TeamAccessForm(member=member), sum(member.permissions.values()))
        )
    context |= {"members": members, "add_form": bound.get("add_form") or forms.TeamAccessForm()}
    return render(request, "iproxy/connection_team.html", context, status=status)


@owner_required
def connection_team(request, resource_id: int):
    return _render_team(request, resource_for_staff(resource_id, kind=CONNECTION))


@owner_required
@require_POST
@_live_phone("team")
def team_modify(request, connection: Resource):
    phone = connection.details
    members = {forms.member_prefix(m.email): m for m in (phone.shared_users if phone is not None else ())}
    prefix = next((key.split("-")[1] for key in request.POST if key.startswith("team-") and key.count("-") >= 2), "")
    member = members.get(prefix)
    form = forms.TeamAccessForm(request.POST, member=member) if member else forms.TeamAccessForm(request.POST)
    if not form.is_valid():
        bound = {f"member_{prefix}": form} if member else {"add_form": form}
        return _render_team(request, connection, status=400, **bound)
    body = form.body()
    with _reporting(request, "change the team access") as outcome:
        services.team_access_modify(
            connection=connection, email=body["email"], permissions=body["permissions"], actor=request.user
        )
    if outcome.ok:
        count = sum(body["permissions"].values())
        messages.success(request, f"{body['email']} now has {count} permission(s) on this phone.")
    return _to_phone(connection, "team")


@owner_required
@require_POST
@_live_phone("team")
def team_remove(request, connection: Resource):
    form = forms.TeamRemoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return _to_phone(connection, "team")
    email = form.cleaned_data["email"]
    with _reporting(request, "remove the team member") as outcome:
        services.team_access_remove(connection=connection, email=email, actor=request.user)
    if outcome.ok:
        messages.success(request, f"{email} no longer has access to this phone.")
    return _to_phone(connection, "team")


# Action links ----------------------------------------------------------------------------------------------


def _render_links(request, connection: Resource, status: int = 200, **bound) -> Any:
    context = _phone_context(connection, tab="links")
    links, unavailable = [], ""
    try:
        if connection.status != ResourceStatus.VANISHED:
            links = services.action_links(connection=connection)
    except errors.ProviderError as exc:
        unavailable = f"iProxy did not list the action links: {exc.message}"
    context |= {
        "links": [
            {
                "handle": services.link_handle(link),
                "masked": services.masked_link(link),
                "action": link.action,
                "comment": link.comment,
                "created_at": link.created_at,
                "ours": link.comment == services.LINK_COMMENT,
            }
            for link in links
        ],
        "unavailable": unavailable,
        "create_form": bound.get("create_form") or forms.ActionLinkCreateForm(),
        "revealed": bound.get("revealed"),
    }
    return _no_store(render(request, "iproxy/connection_links.html", context, status=status))


@owner_required
def connection_links(request, resource_id: int):
    return _render_links(request, resource_for_staff(resource_id, kind=CONNECTION))


@owner_required
@require_POST
@_live_phone("links")
def link_create(request, connection: Resource):
    form = forms.ActionLinkCreateForm(request.POST)
    if not form.is_valid():
        return _render_links(request, connection, status=400, create_form=form)
    body = form.body()
    with _reporting(request, "make the action link") as outcome:
        link = services.action_link_create(
            connection=connection, action=body["action"], comment=body.get("comment"), actor=request.user
        )
    if not outcome.ok:
        return _to_phone(connection, "links")
    revealed = {
        "title": f"New {link.action} link",
        "value": link.link,
        "note": "Anyone with this address can use it, without signing in. It is shown only now.",
    }
    return _render_links(request, connection, revealed=revealed)


@owner_required
@require_POST
@_live_phone("links")
def link_delete(request, connection: Resource):
    form = forms.ActionLinkRefForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick an action link from the list.")
        return _to_phone(connection, "links")
    with _reporting(request, "delete the action link", refusals=(services.UnknownUpstreamItem,)) as outcome:
        link = services.action_link_delete(
            connection=connection, handle=form.cleaned_data["handle"], actor=request.user
        )
    if outcome.ok:
        messages.success(request, f"The {link.action} link is deleted: it no longer works for anyone.")
    return _to_phone(connection, "links")


# SMS and statistics (read only) -----------------------------------------------------------------------------


@owner_required
def connection_sms(request, resource_id: int):
    connection = resource_for_staff(resource_id, kind=CONNECTION)
    context = _phone_context(connection, tab="sms")
    context |= {"sms": [], "unavailable": ""}
    if connection.status != ResourceStatus.VANISHED:
        try:
            context["sms"] = services.connection_sms(connection=connection)
        except errors.ProviderError as exc:
            context["unavailable"] = f"iProxy did not give the SMS history: {exc.message}"
    return _no_store(render(request, "iproxy/connection_sms.html", context))


@staff_required
def connection_statistics(request, resource_id: int):
    connection = resource_for_staff(resource_id, kind=CONNECTION)
    today = timezone.localdate()
    initial = {"start": today - dt.timedelta(days=6), "end": today, "tz": settings.TIME_ZONE}
    form = forms.StatisticsForm(request.GET if "start" in request.GET else initial)
    context = _phone_context(connection, tab="statistics")
    context |= {"form": form, "stats": None, "unavailable": ""}
    status = 200
    if not form.is_valid():
        status = 400
    elif connection.status != ResourceStatus.VANISHED:
        start, end = form.moments()
        try:
            stats = services.connection_statistics_range(
                connection=connection, start=start, end=end, tz=form.cleaned_data["tz"]
            )
        except errors.ProviderError as exc:
            context["unavailable"] = f"iProxy did not give the statistics: {exc.message}"
        else:
            context |= {
                "stats": stats,
                "traffic": traffic_chart(stats),
                "ports": port_charts(stats),
                "uptime": uptime_summary(stats),
                "ip_history": sorted(stats.ip_history, key=lambda entry: entry.date, reverse=True),
            }
    return render(request, "iproxy/connection_statistics.html", context, status=status)


def port_charts(stats: services.StaffStatistics) -> list[dict[str, Any]]:
    """One bar chart per port: its traffic per hour over the range, scaled to that port's busiest hour."""
    charts = []
    for port in sorted(stats.ports, key=lambda p: p.port):
        hours = port.hourly_stats
        peak = max((hour.in_bytes + hour.out_bytes for hour in hours), default=0) or 1
        bars = []
        for index, hour in enumerate(hours):
            total = (hour.in_bytes + hour.out_bytes) / peak * CHART_HEIGHT
            local = hour.date.astimezone(zoneinfo.ZoneInfo(stats.timezone))
            bars.append(
                {
                    "x": index * 3,
                    "y": round(CHART_HEIGHT - total, 2),
                    "height": round(total, 2),
                    "title": f"{local:%Y-%m-%d %H}:00: {gb(hour.in_bytes)} received, {gb(hour.out_bytes)} sent",
                }
            )
        charts.append(
            {
                "port": port.port,
                "bars": bars,
                "width": max(len(hours) * 3, 3),
                "height": CHART_HEIGHT,
                "total_in": gb(port.total_in_bytes),
                "total_out": gb(port.total_out_bytes),
                "hours": len(hours),
            }
        )
    return charts


def uptime_summary(stats: services.StaffStatistics) -> dict[str, Any]:
    """Uptime over the range: the share of reported hours that were up, and one cell per report."""
    entries = sorted(stats.uptime, key=lambda entry: entry.date)
    zone = zoneinfo.ZoneInfo(stats.timezone)
    cells = [
        {
            "x": index * 4,
            "status": "up" if entry.status.upper() == "UP" else "down",
            "title": f"{entry.date.astimezone(zone):%Y-%m-%d %H:%M} — {entry.status}",
        }
        for index, entry in enumerate(entries)
    ]
    up = sum(cell["status"] == "up" for cell in cells)
    return {
        "cells": cells,
        "width": max(len(cells) * 4, 4),
        "percent": f"{up / len(cells) * 100:.1f}%" if cells else "—",
        "up": up,
        "known": len(cells),
    }
