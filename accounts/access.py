"""Access checks by role, used by every staff and portal view, and the one loader of a customer for staff."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from accounts.models import Customer


def _role_required(allowed: Callable[[object], bool], refusal: str):
    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not allowed(request.user):
                raise PermissionDenied(refusal)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


# Owner or support; customers get 403.
staff_required = _role_required(lambda user: user.is_staff_member, "Staff only.")
# Owner/admin only: provider secrets, prices, money corrections.
owner_required = _role_required(lambda user: user.is_owner, "Owner only.")
# Customer logins of active customers only: staff use /staff/; a suspension also ends open sessions' access.
customer_required = _role_required(
    lambda user: user.is_customer_user and user.customer.is_active,
    "The portal is for customer logins of active accounts. If your account was suspended, please contact support.",
)


def customer_for_staff(customer_id: int) -> Customer:
    """Any customer, or 404 (every staff member may see every customer)."""
    return get_object_or_404(Customer, pk=customer_id)
