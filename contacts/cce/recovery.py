"""MR PG connection loss and CCP restart (spec §3 "Connection loss" and "Recovery"), as the admin triggers them.

Both are tables of moves applied to a snapshot of the contacts in the named positions, taken when the
admin acts, one compare-and-set each through `contacts.core.lifecycle`. A move refused because the contact
moved meanwhile (routing, a cancel, a worker) is skipped and never retried: the winner's outcome stands.
Untouched, as the contract says: unread contacts (submitted afterwards), reserved tasks (they stay
with their agents), contacts whose cancel is in flight (it completes, C6/T7), and every final position.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q

from contacts.core import lifecycle
from contacts.core.lifecycle import (
    CB_QUEUED,
    TASK_QUEUED,
    TASK_RENOTIFYING,
    Kind,
    Pair,
    Reason,
    Source,
    State,
    TransitionRefused,
)
from contacts.core.models import Contact

from . import routing, throttle
from .models import CceSettings

log = logging.getLogger(__name__)

# Contacts loaded and moved per query; between chunks a connection drop checks it is still down.
CHUNK = 200

DISCONNECTED = Pair(State.DISCARDED, Reason.CCE_CONNECTION_FAILURE)
FAILED_OVER = Pair(State.DISCARDED, Reason.CCE_CCP_FAILOVER)
# Connection loss: what is waiting in a CCE queue or being resubmitted to one is lost with the link
# (C4, T5, T11). A cancel in flight is not: it completes.
DISCONNECT_FROM = (CB_QUEUED, TASK_QUEUED, TASK_RENOTIFYING)


@dataclass(frozen=True)
class RestartMove:
    """One row of the recovery table: contacts of `kind` at `from_pair` (with requeueOnRecovery as
    `requeue`, or either when None) move to `to_pair` when CCP restarts."""

    label: str
    kind: str
    from_pair: Pair
    requeue: bool | None
    to_pair: Pair


RESTART_MOVES = (
    RestartMove("callbacks discarded", Kind.CALLBACK, CB_QUEUED, None, FAILED_OVER),  # C4
    RestartMove("tasks renotified", Kind.TASK, TASK_QUEUED, True, TASK_RENOTIFYING),  # T9, then T10/T11
    RestartMove("tasks discarded", Kind.TASK, TASK_QUEUED, False, FAILED_OVER),  # T5
    RestartMove("renotifies discarded", Kind.TASK, TASK_RENOTIFYING, False, FAILED_OVER),  # T11
    # (queued, TASK_RENOTIFY_REQUESTED) with requeueOnRecovery: keeps renotifying, untouched.
)


def set_connection(up: bool, *, user=None, source: str = Source.ADMIN) -> int:
    """Set the MR PG connection up or down; returns how many queued contacts the drop discarded.

    The flag changes under the settings lock that every throttle admission holds, so no submission
    decided with the connection up commits after the drop. Up: routing runs again for every MRD
    with waiting contacts and free slots, and the backlog drains; reserved tasks whose handle time
    ended meanwhile complete on the next sweep.
    """
    with transaction.atomic():
        cce = throttle.lock_settings()
        CceSettings.objects.filter(pk=cce.pk).update(connection_up=up)
        if up:
            transaction.on_commit(_after_reconnect)
    return 0 if up else disconnect_queued(user=user, source=source)


def disconnect_queued(*, user=None, source: str = Source.ADMIN, limit: int | None = None) -> int:
    """C4/T5/T11 NOTIFICATION_CCE_CONNECTION_FAILURE for the queued contacts (no cancel in flight).

    Also run by the reconciler while the connection is down, for any contact a race queued after
    the drop's snapshot (a renotify that read the connection up just before it went down).
    """
    waiting = Contact.objects.filter(_at_any(DISCONNECT_FROM)).order_by("id").values_list("pk", flat=True)
    ids = list(waiting[:limit] if limit else waiting)

    def still_down() -> bool:
        return not CceSettings.load().connection_up

    return _move_all(ids, DISCONNECT_FROM, DISCONNECTED, source=source, user=user,
                     comment="MR PG connection down", proceed=still_down)


def simulate_ccp_restart(*, user=None, source: str = Source.ADMIN) -> dict[str, int]:
    """Apply RESTART_MOVES to the contacts in their positions now; returns how many each row moved.

    The snapshot is taken for every row before any move, so a contact moved by one row (T9) is
    never picked up by another. Afterwards the backlog drains: unread contacts are submitted.
    """
    snapshot = {move.label: list(_restart_candidates(move)) for move in RESTART_MOVES}
    done = {
        move.label: _move_all(snapshot[move.label], (move.from_pair,), move.to_pair, source=source, user=user,
                              comment="simulated CCP restart")
        for move in RESTART_MOVES
    }
    transaction.on_commit(lambda: _enqueue("reconcile"))
    return done


def _restart_candidates(move: RestartMove) -> list[int]:
    contacts = Contact.objects.filter(_at_any((move.from_pair,)), kind=move.kind)
    if move.requeue is not None:
        contacts = contacts.filter(requeue_on_recovery=move.requeue)
    return list(contacts.order_by("id").values_list("pk", flat=True))


def _at_any(pairs: tuple[Pair, ...]) -> Q:
    query = Q(pk__in=[])
    for state, reason in pairs:
        query |= Q(state=state, reason=reason)
    return query


def _move_all(
    ids: list[int],
    from_pairs: tuple[Pair, ...],
    to_pair: Pair,
    *,
    source: str,
    user,
    comment: str,
    proceed: Callable[[], bool] = lambda: True,
) -> int:
    """Move each listed contact still at one of `from_pairs` to `to_pair`, a chunk per query."""
    moved = 0
    for start in range(0, len(ids), CHUNK):
        if not proceed():
            break
        for contact in Contact.objects.filter(_at_any(from_pairs), pk__in=ids[start : start + CHUNK]).order_by("id"):
            try:
                # Out of the queue, the task life's due time no longer applies (a requeue sets a new one).
                row = lifecycle.transition(
                    contact, *to_pair, source=source, user=user, comment=comment, changes={"due_at": None}
                )
            except TransitionRefused as refused:
                # A worker (routing, a cancel, a renotify) moved it first: its outcome stands.
                log.info("%s: contact %s skipped: %s", comment, contact.pk, refused)
                continue
            moved += row is not None
    return moved


def _after_reconnect() -> None:
    for mrd_id in routing.mrds_worth_routing():
        _enqueue("route_mrd", mrd_id)
    _enqueue("reconcile")


def _enqueue(name: str, *args) -> None:
    from . import tasks

    try:
        getattr(tasks, name).delay(*args)
    except Exception:
        # The connection state is committed; beat runs the sweep and the reconciler anyway.
        log.exception("could not enqueue %s%r", name, args)
