"""Run the migrations to given targets inside a test, and read the models as they were there."""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate_to(targets):
    """Migrate the test database to `targets`; returns the historical apps at that state."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def latest():
    """The leaf migration of every app: where a test that migrated back must return."""
    return MigrationExecutor(connection).loader.graph.leaf_nodes()
