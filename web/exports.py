"""Proxy-list downloads for the portal and staff: streamed, so an export's memory does not grow with it."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.utils import timezone

from inventory import presenters

# Rows an export reads from the database at a time: its memory stays the same at any size.
EXPORT_CHUNK = 2000


def export_response(resources, export_format: presenters.ExportFormat, *, name: str) -> StreamingHttpResponse:
    """A download of `resources` in `export_format`, read in chunks and written as it is read."""
    chunks = presenters.export_chunks(resources.iterator(chunk_size=EXPORT_CHUNK), export_format)
    response = StreamingHttpResponse(chunks, content_type=export_format.content_type)
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = (
        f'attachment; filename="{name}-{stamp}-{export_format.key}.{export_format.extension}"'
    )
    return response
