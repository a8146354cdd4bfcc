"""Writes on customers and users: the one place that creates, changes and audits them."""

from __future__ import annotations

from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

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


@transaction.atomic
def customer_login_invite(*, customer: Customer, username: str, email: str, actor: User, request) -> User:
    """Add a login to a customer and email it a link to choose its password.

    Django's reset form skips users without a usable password, so the invitation builds the same
    one-time link itself.
    """
    user = customer_user_create(customer=customer, username=username, email=email, password=None, actor=actor)
    context = {
        "user": user,
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
        "protocol": "https" if request.is_secure() else "http",
        "domain": request.get_host(),
    }
    subject = render_to_string("registration/invite_subject.txt", context).strip()
    body = render_to_string("registration/invite_email.txt", context)
    transaction.on_commit(lambda: send_mail(subject, body, None, [email]))
    return user
