"""Sold resources get the date their customer has paid through: the expiry upstream gave their last order.

Before `Resource.paid_through` existed the fulfilment did not record it; the best known value for a resource
an order fulfilled is its current expiry (a renewal moved it there). Resources never sold through an order
(stock, or assigned by hand) keep none.
"""

from django.db import migrations
from django.db.models import F


def fill(apps, schema_editor):
    Resource = apps.get_model("inventory", "Resource")
    Order = apps.get_model("billing", "Order")
    sold = Order.objects.filter(state="fulfilled", resource__isnull=False).values("resource_id")
    Resource.objects.filter(pk__in=sold, paid_through__isnull=True, customer__isnull=False).update(
        paid_through=F("expires_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0008_ledger_append_function"),
        ("inventory", "0011_resource_paid_through"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
