"""`NOTIFICATIONS_UNREAD` for the navigation badge: one count query, for customer logins only."""

from __future__ import annotations

from notifications.models import Notification


def unread(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not getattr(user, "is_customer_user", False):
        return {}
    return {"NOTIFICATIONS_UNREAD": Notification.objects.filter(user=user, read_at__isnull=True).count()}
