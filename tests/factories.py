"""factory_boy factories for the cast and anything tests need to build."""

from __future__ import annotations

import factory

from accounts.models import Customer, Role, User
from integrations.iproxy.kinds import IPROXY
from integrations.unknownproxies.kinds import RESI_TOKEN, UNKNOWN_PROXIES
from inventory.models import Resource, ResourceStatus
from providers import registry
from providers.models import ProviderAccount
from providers.sandbox.testing import SANDBOX_TEST_URL

PASSWORD = "test-pass-98765"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")
    contact_email = factory.Sequence(lambda n: f"customer{n}@example.com")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    role = Role.CUSTOMER
    customer = factory.Maybe(
        factory.LazyAttribute(lambda user: user.role == Role.CUSTOMER),
        yes_declaration=factory.SubFactory(CustomerFactory),
        no_declaration=None,
    )

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])


class ProviderAccountFactory(factory.django.DjangoModelFactory):
    """Defaults point at the sandbox behind `responses` (the `sandbox` fixture)."""

    class Meta:
        model = ProviderAccount
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Account {n}")
    kind = IPROXY
    base_url = factory.LazyAttribute(lambda account: SANDBOX_TEST_URL + registry.get(account.kind).sandbox_path)
    username = factory.LazyAttribute(lambda account: "sandbox" if account.kind == UNKNOWN_PROXIES else "")

    @factory.post_generation
    def secret(self, create, extracted, **kwargs):
        if extracted is None:
            extracted = {"unknownproxies": "sandbox-pass", "shop": "rk_sandbox", "iproxy": "sandbox-key"}[self.kind]
        self.secret = extracted
        if create:
            self.save(update_fields=["secret_encrypted"])


RESI_UPSTREAM = {
    "token": "zu8sBXS4gkh7",
    "username": "kGyohRda",
    "authType": "user",
    "password": "bkXBberMQ7",
    "durationHours": 750,
    "status": "active",
    "createdAt": 1752251968,
    "updatedAt": 1754843968,
    "dataUsage": 11574848653,
    "dataLimit": 100000000000,
    "allowedPools": ["us-s", "gb-r"],
}


class ResourceFactory(factory.django.DjangoModelFactory):
    """A mirrored residential token unless told otherwise."""

    class Meta:
        model = Resource

    account = factory.SubFactory(ProviderAccountFactory, kind=UNKNOWN_PROXIES)
    kind = RESI_TOKEN
    upstream_id = factory.Sequence(lambda n: f"token{n:05d}")
    label = factory.Sequence(lambda n: f"user{n:04d}")
    status = ResourceStatus.ACTIVE
    data_used_bytes = 11_574_848_653
    data_limit_bytes = 100_000_000_000
    upstream = factory.LazyAttribute(lambda r: {**RESI_UPSTREAM, "token": r.upstream_id, "username": r.label})
