"""Reading the SQL a piece of code ran (Django's CaptureQueriesContext)."""

from __future__ import annotations

import re
from collections.abc import Iterable

# A statement that writes the resource table; the PostgreSQL upsert of a sync sits inside a `WITH`.
RESOURCE_WRITE = re.compile(r'\b(INSERT\s+INTO|UPDATE)\s+"inventory_resource"(\s|\()', re.IGNORECASE)


def resource_writes(queries: Iterable[dict]) -> list[str]:
    """The statements among `queries` (captured query dicts, or the context itself) that wrote the resource table."""
    return [query["sql"] for query in queries if RESOURCE_WRITE.search(query["sql"])]
