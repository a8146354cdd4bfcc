"""Staff and portal actions on iproxy resources (views stay thin: form -> service -> message).

Staff run our phones: create one, change its settings, prolongate its plan, reboot it, change its IP,
and open, change or close the proxy accesses on it. A customer acts only on their own proxy access:
new credentials, change the phone's IP now (through us), and traffic and uptime charts drawn here as
inline SVG (no script: the CSP allows none inline).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import customer_required, staff_required
from integrations.iproxy import actions as services
from integrations.iproxy import forms
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


def _form_errors(form) -> str:
    return "; ".join(e for errs in form.errors.values() for e in errs)


# Staff: a phone's page ---------------------------------------------------------------------------------


def _render_connection(request, connection: Resource, status: int = 200, **bound) -> Any:
    upstream = connection.upstream or {}
    children = connection.children.select_related("customer").order_by("status", "label", "id")
    accesses = []
    for child in children:
        form = bound.get(f"access_{child.pk}")
        if form is None and child.status != ResourceStatus.VANISHED:
            form = forms.AccessUpdateForm(current=child.details, expires_at=child.expires_at)
        accesses.append((child, form))
    phone = connection.details
    return render(
        request,
        "iproxy/connection.html",
        {
            "resource": connection,
            "phone": phone,
            "plan": phone.active_plan if phone is not None else None,
            "online_status": upstream.get("online_status", "unknown"),
            "settings_form": bound.get("settings_form")
            or forms.ConnectionSettingsForm(current=upstream.get("settings") or {}),
            "prolongate_form": bound.get("prolongate_form") or forms.ProlongateForm(),
            "access_form": bound.get("access_form") or forms.AccessCreateForm(),
            "command_form": forms.CommandForm(auto_id=False),
            "accesses": accesses,
        },
        status=status,
    )


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
        try:
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
        except errors.UnknownOutcomeError:
            _unconfirmed(request, "create the connection")
        except errors.ProviderError as exc:
            _refused(request, "create the connection", exc)
        else:
            messages.success(request, f"Connection {resource.label} created; set up the phone with the iProxy app.")
            return redirect("inventory:iproxy-connection", resource_id=resource.pk)
    return render(request, "iproxy/connection_new.html", {"form": form, "account": account})


@staff_required
@require_POST
def connection_settings(request, resource_id: int):
    connection = resource_for_staff(resource_id, kind=CONNECTION)
    form = forms.ConnectionSettingsForm(request.POST, current=(connection.upstream or {}).get("settings") or {})
    if not form.is_valid():
        return _render_connection(request, connection, status=400, settings_form=form)
    changes = form.changes()
    try:
        services.connection_settings_update(connection=connection, changes=changes, actor=request.user)
    except errors.UnknownOutcomeError:
        _unconfirmed(request, "change the settings")
    except errors.ProviderError as exc:
        _refused(request, "change the settings", exc)
    else:
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
    try:
        resource = services.connection_prolongate(
            connection=connection, days=days, coupon_code=coupon_code, actor=request.user
        )
    except errors.UnknownOutcomeError:
        _unconfirmed(request, "prolongate the plan")
    except errors.ProviderError as exc:
        _refused(request, "prolongate the plan", exc)
    else:
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
    doing = "reboot the phone" if reboot else "change the IP"
    try:
        if reboot:
            services.connection_reboot(connection=connection, actor=request.user, via=form.cleaned_data["via"])
        else:
            services.connection_change_ip(connection=connection, actor=request.user, via=form.cleaned_data["via"])
    except errors.UnknownOutcomeError:
        _unconfirmed(request, doing)
    except errors.ProviderError as exc:
        _refused(request, doing, exc)
    else:
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
    try:
        resource = services.access_create(connection=connection, actor=request.user, **form.service_kwargs())
    except errors.UnknownOutcomeError:
        _unconfirmed(request, "open the proxy access")
    except errors.ProviderError as exc:
        _refused(request, "open the proxy access", exc)
    else:
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
    try:
        services.access_update(access=access, actor=request.user, **form.changes())
    except errors.UnknownOutcomeError:
        _unconfirmed(request, "change the proxy access")
    except services.NotOnAPhone as exc:
        messages.error(request, str(exc))
    except errors.ProviderError as exc:
        _refused(request, "change the proxy access", exc)
    else:
        messages.success(request, f"Proxy access {access.label} saved.")
    return back


@staff_required
@require_POST
def access_delete(request, resource_id: int):
    access = resource_for_staff(resource_id, kind=ACCESS)
    try:
        services.access_delete(access=access, actor=request.user)
    except errors.UnknownOutcomeError:
        _unconfirmed(request, "close the proxy access")
    except services.NotOnAPhone as exc:
        messages.error(request, str(exc))
    except errors.ProviderError as exc:
        _refused(request, "close the proxy access", exc)
    else:
        messages.success(request, f"Proxy access {access.label} is closed.")
    return _back_for(access)


def _back_for(access: Resource):
    if access.parent_id is not None:
        return redirect("inventory:iproxy-connection", resource_id=access.parent_id)
    return redirect("inventory:resource-detail", resource_id=access.pk)


# Customers: self-service on their own access -------------------------------------------------------------


@customer_required
@require_POST
def portal_new_credentials(request, resource_id: int):
    access = resource_for_customer(request.user, resource_id, kind=ACCESS)
    if access.status == ResourceStatus.VANISHED:
        messages.error(request, "This proxy has ended.")
        return redirect("portal:proxy-detail", resource_id=access.pk)
    try:
        services.access_new_credentials(access=access, actor=request.user)
    except errors.UnknownOutcomeError:
        _unconfirmed(request, "make new credentials", customer=True)
    except services.NotOnAPhone as exc:
        messages.error(request, str(exc))
    except errors.ProviderError as exc:
        _refused(request, "make new credentials", exc)
    else:
        messages.success(request, "Your new password is ready below; the old one no longer works.")
    return redirect("portal:proxy-detail", resource_id=access.pk)


@customer_required
@require_POST
def portal_change_ip(request, resource_id: int):
    access = resource_for_customer(request.user, resource_id, kind=ACCESS)
    if access.status == ResourceStatus.VANISHED:
        messages.error(request, "This proxy has ended.")
        return redirect("portal:proxy-detail", resource_id=access.pk)
    try:
        services.access_change_ip(access=access, actor=request.user)
    except errors.UnknownOutcomeError:
        _unconfirmed(request, "change the IP", customer=True)
    except (services.ChangeIpTooSoon, services.NotOnAPhone) as exc:
        messages.error(request, str(exc))
    except errors.ProviderError as exc:
        _refused(request, "change the IP", exc)
    else:
        messages.success(request, "Your proxy is changing its IP now; it takes a few seconds.")
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
