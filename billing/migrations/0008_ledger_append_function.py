"""`billing_ledger_append`: a ledger entry and its audit row in one statement on PostgreSQL.

A charge used to be five round trips under the customer's row lock (lock, read the last entry, insert,
audit, commit), so charges on one hot balance queued behind each other's network and Python time. The
function does the same steps inside the database: it takes the same row lock (`FOR UPDATE` on the
customer, as `select_for_update()` does, so it queues with every Python path that locks the customer),
reads the last entry by the (customer, sequence) index, refuses (inserts nothing) when `p_floor` is set
and the entry would take the balance below zero, appends the entry with the next sequence and the
running balance after it, and writes the audit row `ops.audit.record` would write (the caller passes its
redacted fields; the function adds the entry's id and the balance after it). The table's constraints
still guard every row (no overdraft, one entry per sequence, one charge per order).

Returns (entry_id, entry_sequence, balance_cents): the new entry's id, sequence and balance after it,
or, when refused, a NULL id with the last entry's sequence and the balance it left.
"""

from django.db import migrations

from ops.migration_operations import RunSQLOnPostgres

CREATE = """
CREATE FUNCTION billing_ledger_append(
    p_customer_id bigint,
    p_amount_cents bigint,
    p_kind varchar,
    p_order_id bigint,
    p_note varchar,
    p_reference varchar,
    p_actor_id bigint,
    p_floor boolean,
    p_created_at timestamptz,
    p_audit_action varchar,
    p_audit_actor_label varchar,
    p_audit_target_type varchar,
    p_audit_data jsonb
) RETURNS TABLE (entry_id bigint, entry_sequence bigint, balance_cents bigint)
LANGUAGE plpgsql AS $$
DECLARE
    last_sequence bigint;
    last_balance bigint;
BEGIN
    PERFORM 1 FROM accounts_customer WHERE id = p_customer_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'customer % does not exist', p_customer_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT e.sequence, e.balance_after_cents INTO last_sequence, last_balance
        FROM billing_ledgerentry e WHERE e.customer_id = p_customer_id ORDER BY e.sequence DESC LIMIT 1;
    last_sequence := coalesce(last_sequence, 0);
    last_balance := coalesce(last_balance, 0);
    IF p_floor AND last_balance + p_amount_cents < 0 THEN
        RETURN QUERY SELECT NULL::bigint, last_sequence, last_balance;
        RETURN;
    END IF;
    INSERT INTO billing_ledgerentry
        (customer_id, amount_cents, sequence, balance_after_cents, kind, order_id, note, reference, actor_id,
         created_at)
        VALUES (p_customer_id, p_amount_cents, last_sequence + 1, last_balance + p_amount_cents, p_kind,
                p_order_id, p_note, p_reference, p_actor_id, p_created_at)
        RETURNING id INTO entry_id;
    INSERT INTO ops_auditevent
        (created_at, actor_id, actor_label, action, target_type, target_id, customer_id, data)
        VALUES (p_created_at, p_actor_id, p_audit_actor_label, p_audit_action, p_audit_target_type,
                entry_id::text, p_customer_id,
                p_audit_data || jsonb_build_object('balance_cents', last_balance + p_amount_cents));
    RETURN QUERY SELECT entry_id, last_sequence + 1, last_balance + p_amount_cents;
END;
$$;
"""

DROP = """
DROP FUNCTION billing_ledger_append(
    bigint, bigint, varchar, bigint, varchar, varchar, bigint, boolean, timestamptz, varchar, varchar, varchar, jsonb
);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0007_list_seek_indexes"),
        ("accounts", "0004_api_keys"),
        ("ops", "0001_initial"),
    ]

    operations = [RunSQLOnPostgres(CREATE, DROP)]
