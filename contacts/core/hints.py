"""Hints sent after commit (DESIGN invariant 3): a message whose sending fails must not fail what committed.

`after_commit(send, what)` runs `send` once the current transaction commits (at once outside one) and
logs a failure instead of raising it: the data is committed, and the periodic sweep, the reconciler or
the bulk-job resumer find the work from the database and send it again. Without it, Redis being down
turned an admin's committed save into a 500 and stopped a sweep half-way through its MRDs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

log = logging.getLogger(__name__)


def after_commit(send: Callable[[], object], what: str) -> None:
    """Call `send()` after commit; an exception is logged with `what` (e.g. "routing of MRD 5"), never raised."""

    def guarded() -> None:
        try:
            send()
        except Exception:
            log.warning("could not send %s after commit; the periodic work will redo it", what, exc_info=True)

    transaction.on_commit(guarded)
