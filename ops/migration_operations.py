"""Migration operations that touch PostgreSQL only, so the same migrations run on the embedded SQLite."""

from __future__ import annotations

from django.db import migrations


class OnPostgresOnly:
    """Mixed into an operation: its state change applies everywhere, its database change only on PostgreSQL."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class AddIndexOnPostgres(OnPostgresOnly, migrations.AddIndex):
    """An index only PostgreSQL can build (a trigram GIN): in the model state everywhere, built only there.

    SQLite keeps the model's other indexes and searches by scanning, which is fine at its sizes.
    """


class RunSQLOnPostgres(OnPostgresOnly, migrations.RunSQL):
    """SQL only PostgreSQL runs (a PL/pgSQL function): SQLite keeps the Python path it stands in for."""
