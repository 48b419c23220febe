"""CSV export of a contact list, streamed in bounded memory and safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.db.models import QuerySet

from contacts.core.formats import reason_name

COLUMNS = [
    ("public_id", "id"),
    ("kind", "kind"),
    ("feed_id", "feed"),
    ("state", "state"),
    ("reason", "reason"),
    ("name", "name"),
    ("title", "title"),
    ("media_address", "media address"),
    ("script_selector", "script selector requested"),
    ("cce_mrd_id", "MRD"),
    ("cce_script_selector", "script selector used"),
    ("estimated_wait", "estimated wait (s)"),
    ("cce_task_id", "task ID"),
    ("agent_id", "agent ID"),
    ("attempt", "attempt"),
    ("created_at", "created"),
    ("updated_at", "updated"),
]
FIELDS = [name for name, _ in COLUMNS]
# Derived columns, after the stored ones so that a script reading columns by position keeps working:
# the reason's plain name, in the words the pages use (contacts.core.formats.reason_name).
DERIVED = [("reason name", lambda row: reason_name(row[FIELDS.index("reason")] or ""))]
CHUNK_SIZE = 2000

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """The cell's text, prefixed with ' when a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    if not isinstance(value, str):
        # Numbers and times come from our own columns; "-1" is an estimate, not a formula.
        return value.isoformat() if hasattr(value, "isoformat") else str(value)
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _encode(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _chunk(queryset: QuerySet, before_id: int | None) -> list[tuple]:
    page = queryset.order_by("-id")
    if before_id is not None:
        page = page.filter(id__lt=before_id)
    return list(page.values_list("id", *FIELDS)[:CHUNK_SIZE])


async def csv_chunks(queryset: QuerySet) -> AsyncIterator[bytes]:
    """Yield the CSV (newest first) a chunk at a time, paging by id rather than OFFSET.

    An asynchronous iterator, because Daphne consumes a synchronous one whole before sending
    anything; each chunk is one query, so memory stays bounded by CHUNK_SIZE rows.
    """
    yield _encode([[label for _, label in COLUMNS] + [label for label, _ in DERIVED]])
    before_id = None
    while True:
        rows = await sync_to_async(_chunk)(queryset, before_id)
        if not rows:
            return
        yield _encode([[safe_cell(value) for value in row[1:]] + [safe_cell(derive(row[1:])) for _, derive in DERIVED]
                       for row in rows])
        before_id = rows[-1][0]
