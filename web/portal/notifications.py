"""The portal's notifications: the login's feed (read / unread), and where each kind of news goes.

The settings page holds the preferences grid, the Telegram link (the bot's deep link with a one-time
code) and the webhook endpoints with their delivery log. A new endpoint's secret is shown once.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.access import customer_required
from inventory import selectors
from notifications import services
from notifications.forms import PreferencesForm, WebhookEndpointForm
from notifications.models import Channel, Notification, TelegramLink, WebhookEndpoint
from notifications.telegram import TelegramError

PER_PAGE = 50
RECENT_DELIVERIES = 20


def _get_endpoint_for_user(user, endpoint_id: int) -> WebhookEndpoint:
    return get_object_or_404(WebhookEndpoint, pk=endpoint_id, user=user)


@customer_required
def notification_list(request):
    page = Paginator(services.feed_for(user=request.user), PER_PAGE).get_page(request.GET.get("page"))
    # Alerts recorded for the account before it had this feed (or emailed to its contact address instead).
    in_feed = [
        int(key.removeprefix("alert:"))
        for key in Notification.objects.filter(user=request.user, key__startswith="alert:").values_list(
            "key", flat=True
        )
    ]
    account_alerts = selectors.notifications_for_customer(customer=request.user.customer).exclude(pk__in=in_feed)
    return render(
        request,
        "portal/notifications.html",
        {
            "page": page,
            "notifications": page.object_list,
            "account_alerts": account_alerts[:PER_PAGE],
            "unread": services.unread_count(user=request.user),
        },
    )


@customer_required
@require_POST
def notification_read(request, notification_id: int):
    get_object_or_404(Notification, pk=notification_id, user=request.user)
    services.notification_mark_read(user=request.user, notification_id=notification_id)
    return redirect("portal:notification-list")


@customer_required
@require_POST
def notification_read_all(request):
    count = services.notification_mark_read(user=request.user)
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return redirect("portal:notification-list")


def _settings_page(request, *, form=None, webhook_form=None, deep_link: str = "", new_endpoint=None, status=200):
    user = request.user
    form = form or PreferencesForm(initial_channels=services.preferences_for(user=user))
    return render(
        request,
        "portal/notification_settings.html",
        {
            "form": form,
            "channels": Channel.choices,
            "telegram_available": services.telegram_available(),
            "telegram": TelegramLink.objects.filter(user=user).first(),
            "deep_link": deep_link,
            "endpoints": user.webhook_endpoints.all(),
            "webhook_form": webhook_form or WebhookEndpointForm(),
            "new_endpoint": new_endpoint,
            "deliveries": services.webhook_deliveries_for(user=user)[:RECENT_DELIVERIES],
        },
        status=status,
    )


@customer_required
def notification_settings(request):
    if request.method != "POST":
        return _settings_page(request)
    form = PreferencesForm(request.POST, initial_channels=services.preferences_for(user=request.user))
    if not form.is_valid():
        return _settings_page(request, form=form, status=400)
    services.preferences_save(user=request.user, channels=form.channels())
    messages.success(request, "Saved: your notifications go where you chose.")
    return redirect("portal:notification-settings")


@customer_required
@require_POST
def telegram_link(request):
    try:
        deep_link = services.telegram_link_start(user=request.user)
    except TelegramError as exc:
        messages.error(request, f"Telegram is not reachable right now ({exc}). Please try again later.")
        return redirect("portal:notification-settings")
    return _settings_page(request, deep_link=deep_link)


@customer_required
@require_POST
def telegram_unlink(request):
    services.telegram_unlink(user=request.user)
    messages.success(request, "Telegram unlinked: nothing more goes to that chat.")
    return redirect("portal:notification-settings")


@customer_required
@require_POST
def webhook_create(request):
    form = WebhookEndpointForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, webhook_form=form, status=400)
    endpoint = services.webhook_endpoint_create(user=request.user, url=form.cleaned_data["url"])
    return _settings_page(request, new_endpoint=endpoint)


@customer_required
@require_POST
def webhook_delete(request, endpoint_id: int):
    endpoint = _get_endpoint_for_user(request.user, endpoint_id)
    services.webhook_endpoint_delete(endpoint=endpoint, actor=request.user)
    messages.success(request, "Webhook endpoint deleted.")
    return redirect("portal:notification-settings")
