"""Who logs in: staff (owner/admin, support) and the users of customer accounts."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper


class Role(models.TextChoices):
    OWNER = "owner", "Owner / admin"
    SUPPORT = "support", "Support"
    CUSTOMER = "customer", "Customer"


class Customer(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    name = models.CharField(max_length=200)
    contact_email = models.EmailField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            # The staff customer and balance lists seek on (name, id); search is trigram on PostgreSQL only
            # (migration 0002), where `icontains` is UPPER(col) LIKE UPPER('%q%').
            models.Index(fields=["name", "id"], name="customer_name_seek"),
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="customer_name_trgm"),
            GinIndex(OpClass(Upper("contact_email"), name="gin_trgm_ops"), name="customer_email_trgm"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class AccountsUserManager(UserManager):
    """Django's manager, except that a superuser is an owner: `createsuperuser` makes the first owner.

    Without this the role would default to "customer", which the database refuses for a user with no customer.
    """

    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.OWNER)
        if extra_fields["role"] != Role.OWNER:
            raise ValueError("A superuser must have the owner role.")
        extra_fields["customer"] = None
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """One role per user. Customer users belong to exactly one Customer; staff to none.

    Owners are Django superusers (admin site, provider secrets, prices); support staff see
    customers and inventory but never secrets or prices; customers see only the portal.
    """

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CUSTOMER)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="users")

    objects = AccountsUserManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="customer_users_have_a_customer",
                condition=(
                    Q(role="customer", customer__isnull=False) | (~Q(role="customer") & Q(customer__isnull=True))
                ),
            )
        ]

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER

    @property
    def is_support(self) -> bool:
        return self.role == Role.SUPPORT

    @property
    def is_staff_member(self) -> bool:
        return self.role in (Role.OWNER, Role.SUPPORT)

    @property
    def is_customer_user(self) -> bool:
        return self.role == Role.CUSTOMER

    def home_url_name(self) -> str:
        return "staff:home" if self.is_staff_member else "portal:home"


class ApiKey(models.Model):
    """A customer login's key to the customer API: shown once, stored as a SHA-256 hash, revocable.

    The key reads `<prefix>.<secret>`: the prefix is public and finds the row, the secret (256 random bits)
    is compared by hash, so a database leak gives no usable key and the lookup never scans every row.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    can_write = models.BooleanField(default=False, help_text="Read-write: may buy, renew and change proxies.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
