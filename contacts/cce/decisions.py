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


def decide(contact: Contact) -> Decision:
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
    """
    selector, mrd_id = target(contact)

    def discard(reason: str) -> Decision:
        return Decision(Outcome.DISCARD, reason, mrd_id, selector)

    if not CceSettings.load().connection_up:
        return discard(Reason.CCE_CONNECTION_FAILURE)
    variables = _variables(contact)
    if _exceeds_field_limits(variables):
        return discard(Reason.INVALID_FIELD_LENGTH)
    if _is_malformed(variables):
        return discard(Reason.INVALID_NEW_TASK_MESSAGE)
    mrd = MediaRoutingDomain.objects.filter(pk=mrd_id).first() if mrd_id is not None else None
    if contact.kind == Kind.CALLBACK and mrd is None:
        return discard(Reason.INVALID_MRD_ID)
    dialed = DialedNumber.objects.select_related("script").filter(string=selector).first() if selector else None
    if dialed is None or mrd is None:
        return discard(Reason.INVALID_SCRIPT_SELECTOR)
    if not mrd.routing_enabled:
        return discard(Reason.MEDIA_ROUTING_DISABLED)
    if dialed.script is None:
        return discard(Reason.NO_SCRIPT)
    ahead = queues.in_queue(mrd.pk).exclude(pk=contact.pk).count()
    if mrd.max_tasks_in_queue and ahead >= mrd.max_tasks_in_queue:
        return discard(Reason.ROUTER_RELEASED_TASK)
    if dialed.script.action in SCRIPT_DISCARDS:
        return discard(SCRIPT_DISCARDS[dialed.script.action])
    queued_reason = Reason.EXTERNALLY_HANDLED if contact.kind == Kind.CALLBACK else Reason.EXTERNALLY_ROUTED
    return Decision(Outcome.QUEUE, queued_reason, mrd.pk, selector, estimate_wait(queues.capacity(mrd.pk), ahead))


def target(contact: Contact) -> tuple[str, int | None]:
    """(script selector, MRD id) the CCE would use: the task's own selector and that selector's MRD,
    or for a callback both from its feed's enabled notification (None if it has none)."""
    if contact.kind == Kind.CALLBACK:
        notification = FeedNotification.objects.filter(feed_id=contact.feed_id, enabled=True).first()
        return (notification.script_selector, notification.mrd_id) if notification else ("", None)
    selector = contact.script_selector
    mrd_id = DialedNumber.objects.filter(string=selector).values_list("mrd_id", flat=True).first() if selector else None
    return selector, mrd_id


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
