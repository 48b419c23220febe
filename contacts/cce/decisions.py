"""`decide()`: what the mock CCE does with a contact submitted now; the one written-down order of its checks.

Side-effect free (it only reads), so the submit and renotify tasks apply it through the lifecycle and
the dashboard calls it on a discarded contact to tell an admin whether the cause is still there.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import models

from contacts.core.lifecycle import Kind, Reason
from contacts.core.models import Contact, FeedNotification

from . import queues
from .models import CceSettings, DialedNumber, MediaRoutingDomain, ScriptAction

MEDIA_TYPES = frozenset({"chat", "email", "event", "mobile", "social", "video", "voice", "web"})
CALL_VARIABLE = re.compile(r"cv_(?:[1-9]|10)")
ECC_PREFIX = "user_"
ECC_NAME_PREFIX = "user."
# CCE field limits (spec §6).
CALL_VARIABLE_MAX_CHARS = 40
ECC_NAME_MAX_CHARS = 32
ECC_VALUE_MAX_BYTES = 210
ECC_TOTAL_MAX_BYTES = 2000
ECC_OVERHEAD_BYTES = 5

SCRIPT_DISCARDS = {ScriptAction.RELEASE: Reason.ROUTER_RELEASED_TASK, ScriptAction.FAIL: Reason.UNKNOWN_ERROR}


class Outcome(models.TextChoices):
    QUEUE = "queue", "queued"
    DISCARD = "discard", "discarded"


@dataclass(frozen=True)
class Decision:
    """The CCE's answer. `reason` is the queued reason (EXTERNALLY_*) or the discard code; the MRD and
    script selector are what the CCE used (as far as it got), copied onto the contact at submission."""

    outcome: str
    reason: str
    mrd_id: int | None
    script_selector: str
    estimated_wait: int | None = None

    @property
    def queued(self) -> bool:
        return self.outcome == Outcome.QUEUE


class Lookups:
    """What `decide()` reads from the database, read once: for one contact, or for a batch of unread ones.

    A batch admission (`actions._admit`) decides its contacts one after the other with one instance,
    under the lock of every MRD they go to: nothing else changes those queues meanwhile, so each
    contact counts the queue as the database holds it plus the contacts of the batch queued before it
    (`joined`), and the answers are those that one `decide()` per contact, in order, would give.
    """

    def __init__(self) -> None:
        self._settings: CceSettings | None = None
        self._mrds: dict[int, MediaRoutingDomain | None] = {}
        self._dialed: dict[str, DialedNumber | None] = {}
        self._notifications: dict[int, FeedNotification | None] = {}
        self._queue_lengths: dict[int, int] = {}
        self._capacities: dict[int, queues.Capacity] = {}

    def settings(self) -> CceSettings:
        if self._settings is None:
            self._settings = CceSettings.load()
        return self._settings

    def mrd(self, mrd_id: int) -> MediaRoutingDomain | None:
        if mrd_id not in self._mrds:
            self._mrds[mrd_id] = MediaRoutingDomain.objects.filter(pk=mrd_id).first()
        return self._mrds[mrd_id]

    def dialed_number(self, selector: str) -> DialedNumber | None:
        if selector not in self._dialed:
            self._dialed[selector] = DialedNumber.objects.select_related("script").filter(string=selector).first()
        return self._dialed[selector]

    def notification(self, feed_id: int) -> FeedNotification | None:
        if feed_id not in self._notifications:
            self._notifications[feed_id] = FeedNotification.objects.filter(feed_id=feed_id, enabled=True).first()
        return self._notifications[feed_id]

    def ahead(self, mrd_id: int, contact: Contact) -> int:
        """Contacts in the MRD's queue other than `contact`: counted once, then kept up by `joined()`.

        The first count leaves `contact` out; the later contacts of a batch are unread, so not in it.
        """
        if mrd_id not in self._queue_lengths:
            self._queue_lengths[mrd_id] = queues.in_queue(mrd_id).exclude(pk=contact.pk).count()
        return self._queue_lengths[mrd_id]

    def joined(self, mrd_id: int) -> None:
        """A contact of the batch was queued in the MRD: the next ones count it ahead of them."""
        self._queue_lengths[mrd_id] = self._queue_lengths.get(mrd_id, 0) + 1

    def capacity(self, mrd_id: int) -> queues.Capacity:
        if mrd_id not in self._capacities:
            self._capacities[mrd_id] = queues.capacity(mrd_id)
        return self._capacities[mrd_id]


def decide(contact: Contact, lookups: Lookups | None = None) -> Decision:
    """What the CCE would do with `contact` if it were submitted now, in any state, without side effects.

    The checks, in this order; the first that matches decides:
      1. the MR PG connection is down                          → NOTIFICATION_CCE_CONNECTION_FAILURE
      2. a CCE field limit of §6 is exceeded (cv_n value > 40 chars; ECC name > 32 chars, value
         > 210 bytes, all ECC values + 5 bytes each > 2000 bytes) → NOTIFICATION_INVALID_FIELD_LENGTH
      3. the route request is malformed (mediaType not one of MEDIA_TYPES; a user_ variable whose
         ECC name does not start with "user.")                → NOTIFICATION_INVALID_NEW_TASK_MESSAGE
      4. callback: its feed's notification names no existing MRD → NOTIFICATION_INVALID_MRD_ID
      5. the script selector does not exist                    → NOTIFICATION_INVALID_SCRIPT_SELECTOR
      6. routing is disabled on the MRD                        → NOTIFICATION_MEDIA_ROUTING_DISABLED
      7. no routing script is bound to the script selector     → NOTIFICATION_NO_SCRIPT
      8. the MRD's queue holds its maximum (others than this contact) → NOTIFICATION_ROUTER_RELEASED_TASK
      9. the script releases                                   → NOTIFICATION_ROUTER_RELEASED_TASK
         the script fails                                      → NOTIFICATION_UNKNOWN_ERROR
     10. queued (EXTERNALLY_HANDLED for a callback, EXTERNALLY_ROUTED for a task), with the
         estimated wait of §7.
    A task queues in the MRD of its script selector; a callback in the MRD its feed's notification
    names (the notification's script selector must exist and have a script; its own MRD is unused).
    `lookups` shares the reads of a batch (see `Lookups`); a queued answer is counted in it.
    """
    lookups = lookups or Lookups()
    selector, mrd_id = target(contact, lookups)

    def discard(reason: str) -> Decision:
        return Decision(Outcome.DISCARD, reason, mrd_id, selector)

    if not lookups.settings().connection_up:
        return discard(Reason.CCE_CONNECTION_FAILURE)
    variables = _variables(contact)
    if _exceeds_field_limits(variables):
        return discard(Reason.INVALID_FIELD_LENGTH)
    if _is_malformed(variables):
        return discard(Reason.INVALID_NEW_TASK_MESSAGE)
    mrd = lookups.mrd(mrd_id) if mrd_id is not None else None
    if contact.kind == Kind.CALLBACK and mrd is None:
        return discard(Reason.INVALID_MRD_ID)
    dialed = lookups.dialed_number(selector) if selector else None
    if dialed is None or mrd is None:
        return discard(Reason.INVALID_SCRIPT_SELECTOR)
    if not mrd.routing_enabled:
        return discard(Reason.MEDIA_ROUTING_DISABLED)
    if dialed.script is None:
        return discard(Reason.NO_SCRIPT)
    ahead = lookups.ahead(mrd.pk, contact)
    if mrd.max_tasks_in_queue and ahead >= mrd.max_tasks_in_queue:
        return discard(Reason.ROUTER_RELEASED_TASK)
    if dialed.script.action in SCRIPT_DISCARDS:
        return discard(SCRIPT_DISCARDS[dialed.script.action])
    queued_reason = Reason.EXTERNALLY_HANDLED if contact.kind == Kind.CALLBACK else Reason.EXTERNALLY_ROUTED
    estimated = estimate_wait(lookups.capacity(mrd.pk), ahead)
    lookups.joined(mrd.pk)
    return Decision(Outcome.QUEUE, queued_reason, mrd.pk, selector, estimated)


def target(contact: Contact, lookups: Lookups | None = None) -> tuple[str, int | None]:
    """(script selector, MRD id) the CCE would use: the task's own selector and that selector's MRD,
    or for a callback both from its feed's enabled notification (None if it has none)."""
    lookups = lookups or Lookups()
    if contact.kind == Kind.CALLBACK:
        notification = lookups.notification(contact.feed_id)
        return (notification.script_selector, notification.mrd_id) if notification else ("", None)
    selector = contact.script_selector
    dialed = lookups.dialed_number(selector) if selector else None
    return selector, dialed.mrd_id if dialed else None


def estimate_wait(capacity: queues.Capacity, ahead: int) -> int:
    """Spec §7: -1 without a ready agent; 0 if a free slot is left for it; else ceil((a - free + 1) * h / s).

    `h` is the agents' mean handle time scaled by CCE_HANDLE_TIME_SCALE, as their real handle times are.
    """
    if capacity.ready_agents == 0:
        return -1
    if ahead < capacity.free:
        return 0
    handle = capacity.mean_handle_seconds * settings.CCE_HANDLE_TIME_SCALE
    return math.ceil((ahead - capacity.free + 1) * handle / capacity.slots)


def _variables(contact: Contact) -> list[tuple[str, str]]:
    pairs = []
    for item in contact.variables or []:
        if isinstance(item, dict):
            pairs.append((str(item.get("name") or ""), str(item.get("value") or "")))
    return pairs


def _exceeds_field_limits(variables: list[tuple[str, str]]) -> bool:
    ecc_total = 0
    for name, value in variables:
        if CALL_VARIABLE.fullmatch(name) and len(value) > CALL_VARIABLE_MAX_CHARS:
            return True
        if name.startswith(ECC_PREFIX):
            size = len(value.encode("utf-8"))
            if len(name.removeprefix(ECC_PREFIX)) > ECC_NAME_MAX_CHARS or size > ECC_VALUE_MAX_BYTES:
                return True
            ecc_total += size + ECC_OVERHEAD_BYTES
    return ecc_total > ECC_TOTAL_MAX_BYTES


def _is_malformed(variables: list[tuple[str, str]]) -> bool:
    for name, value in variables:
        if name == "mediaType" and value not in MEDIA_TYPES:
            return True
        if name.startswith(ECC_PREFIX) and not name.removeprefix(ECC_PREFIX).startswith(ECC_NAME_PREFIX):
            return True
    return False
