"""Writes on customers and users: the one place that creates, changes and audits them."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Customer, Role, User
from ops import audit


@transaction.atomic
def customer_create(
    *, name: str, contact_email: str, notes: str = "", status: str = Customer.Status.ACTIVE, actor: User | None = None
) -> Customer:
    """Create a customer account (no login yet)."""
    customer = Customer.objects.create(name=name, contact_email=contact_email, notes=notes, status=status)
    audit.record(action="customer.create", actor=actor, target=customer, customer=customer, data={"name": name})
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, actor: User | None = None, **changes) -> Customer:
    """Change a customer's name, contact, status or notes."""
    allowed = {"name", "contact_email", "status", "notes"}
    for field, value in changes.items():
        if field not in allowed:
            raise ValueError(f"{field} cannot be changed here")
        setattr(customer, field, value)
    customer.full_clean()
    customer.save(update_fields=sorted(changes))
    audit.record(action="customer.update", actor=actor, target=customer, customer=customer, data=changes)
    return customer


@transaction.atomic
def customer_user_create(
    *, customer: Customer, username: str, email: str, password: str | None, actor: User | None = None
) -> User:
    """A login for a customer; with no password the user must use 'forgot password'."""
    user = User(username=username, email=email, role=Role.CUSTOMER, customer=customer)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    audit.record(
        action="customer.login_create", actor=actor, target=user, customer=customer, data={"username": username}
    )
    return user
