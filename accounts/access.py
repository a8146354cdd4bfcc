"""Access checks by role, used by every staff and portal view."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


def staff_required(view):
    """Owner or support; customers get 403."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff_member:
            raise PermissionDenied("Staff only.")
        return view(request, *args, **kwargs)

    return wrapped


def owner_required(view):
    """Owner/admin only: provider secrets, prices, money corrections."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_owner:
            raise PermissionDenied("Owner only.")
        return view(request, *args, **kwargs)

    return wrapped


def customer_required(view):
    """A customer user of an active customer; staff are sent to their own area by the caller."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_customer_user:
            raise PermissionDenied("The portal is for customer logins.")
        return view(request, *args, **kwargs)

    return wrapped
