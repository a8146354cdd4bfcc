"""Each ledger entry gets its number in the customer's chain and the balance after it (backfilled)."""

from django.db import migrations, models
from django.db.models import F, Sum, Window
from django.db.models.functions import RowNumber

BATCH = 5000


def backfill(apps, schema_editor):
    """Number every customer's entries in id order and store the running sum after each."""
    LedgerEntry = apps.get_model("billing", "LedgerEntry")
    db = schema_editor.connection.alias
    running = (
        LedgerEntry.objects.using(db)
        .annotate(
            seq=Window(RowNumber(), partition_by=[F("customer_id")], order_by=F("id").asc()),
            after=Window(Sum("amount_cents"), partition_by=[F("customer_id")], order_by=F("id").asc()),
        )
        .values_list("id", "seq", "after")
        .order_by("id")
    )
    batch = []
    for pk, seq, after in running.iterator(chunk_size=BATCH):
        batch.append(LedgerEntry(id=pk, sequence=seq, balance_after_cents=after))
        if len(batch) >= BATCH:
            LedgerEntry.objects.using(db).bulk_update(batch, ["sequence", "balance_after_cents"])
            batch = []
    if batch:
        LedgerEntry.objects.using(db).bulk_update(batch, ["sequence", "balance_after_cents"])


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0004_product_costs_order_margins_coupons"),
    ]

    operations = [
        migrations.AddField(model_name="ledgerentry", name="sequence", field=models.PositiveBigIntegerField(null=True)),
        migrations.AddField(
            model_name="ledgerentry", name="balance_after_cents", field=models.BigIntegerField(null=True)
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AlterField(model_name="ledgerentry", name="sequence", field=models.PositiveBigIntegerField()),
        migrations.AlterField(model_name="ledgerentry", name="balance_after_cents", field=models.BigIntegerField()),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.UniqueConstraint(fields=("customer", "sequence"), name="one_ledger_entry_per_sequence"),
        ),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.CheckConstraint(condition=models.Q(sequence__gte=1), name="ledger_sequence_positive"),
        ),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.CheckConstraint(
                condition=models.Q(balance_after_cents__gte=0)
                | models.Q(amount_cents__gte=0)
                | models.Q(kind__in=("payment_refund", "chargeback")),
                name="ledger_balance_never_negative",
            ),
        ),
    ]
