"""factory_boy factories for the cast and anything tests need to build."""

from __future__ import annotations

import factory

from accounts.models import Customer, Role, User

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
