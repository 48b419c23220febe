"""Rule evaluation: the present state of what rules watch, compared with what each rule last said.

Every NOTIFY_CHECK_SECONDS the periodic check reads, once for all rules and only for the kinds some
active rule watches, the present *readings* (subject → open count):

    discards     the alert groups (contacts.alerts.groups): a group's open discards
    queue        the open queue alerts (contacts.alerts.queues): 1 per threshold crossed
    connection   the CCE settings' MR PG connection: 1 while it is down

and per rule and subject compares the count with the rule's state (`NotificationRuleState`):

    was not open, count >= N and settled          -> opened   (one message that says how many)
    was open with c, count >= 2c and settled      -> grown
    was open, count == 0                          -> resolved (sent if the rule sends resolutions)

*Settled*: no new discard in the group for NOTIFY_SETTLE_SECONDS, or the message has waited
NOTIFY_MAX_HOLD_SECONDS, so a burst of discards makes one message with its count, not one per discard.
A state change and its deliveries commit together; the change is a compare-and-set on the state it
read, so two overlapping checks never send one event twice. A muted rule, or one in its quiet hours,
is not evaluated at all: once it may speak, one message per subject says where things stand, and what
came and went meanwhile is not replayed. The alert groups are read from the newest alerts of the
horizon (`feed.LIST_SIZE`); when that cap is reached, a group missing from them is left as it was
rather than called resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from contacts.alerts import feed, groups
from contacts.alerts import queues as queue_alerts
from contacts.alerts.models import QueueAlert
from contacts.cce.models import CceSettings, MediaRoutingDomain

from . import delivery, messages
from .messages import GROWN, OPENED, RESOLVED
from .models import NotificationRule, NotificationRuleState, RuleKind

CONNECTION_SUBJECT = "CCE connection"


@dataclass(frozen=True)
class Reading:
    """One subject now: its open count, its newest alert (for settling) and what a message says about it."""

    count: int
    latest: datetime | None = None
    title: str = ""
    text: str = ""
    path: str = "/"


@dataclass(frozen=True)
class Readings:
    subjects: dict[str, Reading]
    complete: bool = True  # False: a subject missing here may still be open (the alert list's cap)


# --- readings ----------------------------------------------------------------------------------------------


def read_discards(now: datetime) -> Readings:
    summary = groups.alert_groups(now, limit=feed.LIST_SIZE)
    subjects = {}
    for group in summary["groups"]:
        if group["kind"] != "discard":
            continue
        count = group["open"]
        subjects[group["group"]] = Reading(
            count=count, latest=parse_datetime(group["latest"]),
            title=f"{count}{'+' if summary['capped'] else ''} × {group['name']}: {group['group']}",
            text=f"{count} open discards in the group {group['group']}. Fix: {group['fix']}",
            path=group["resubmit"] or "/",
        )
    return Readings(subjects, complete=not summary["capped"])


def read_queues(now: datetime) -> Readings:
    alerts = list(QueueAlert.objects.filter(cleared_at__isnull=True))
    names = dict(MediaRoutingDomain.objects.filter(pk__in={a.mrd_id for a in alerts}).values_list("id", "name"))
    subjects = {}
    for alert in alerts:
        subject = f"{queue_alerts.CODES[alert.metric]} in MRD {alert.mrd_id}"
        subjects[subject] = Reading(
            count=1, title=f"{queue_alerts.NAMES[alert.metric]}: {subject}",
            text=f"{queue_alerts.describe(alert, names.get(alert.mrd_id, ''))} {queue_alerts.FIX}",
        )
    return Readings(subjects)


def read_connection(now: datetime) -> Readings:
    down = not CceSettings.load().connection_up
    text = ("The MR PG connection is down: submissions and queued contacts are discarded "
            "(NOTIFICATION_CCE_CONNECTION_FAILURE).")
    return Readings({CONNECTION_SUBJECT: Reading(count=int(down), title="CCE connection lost", text=text)})


READERS = {RuleKind.DISCARDS: read_discards, RuleKind.QUEUE: read_queues, RuleKind.CONNECTION: read_connection}


def resolved_words(kind: str, subject: str) -> tuple[str, str]:
    if kind == RuleKind.DISCARDS:
        return (f"Resolved: {subject}",
                "Every discard of the group has moved on (resubmitted, handled, cancelled or purged).")
    if kind == RuleKind.QUEUE:
        return f"Back under its threshold: {subject}", "The queue is back under its alert threshold."
    return "CCE connection restored", "The MR PG connection is up again; routing resumes."


# --- deciding ------------------------------------------------------------------------------------------------


def step(was_open: bool, said: int, count: int, threshold: int) -> str | None:
    """The event the present calls for, before settling: opened, grown, resolved, or nothing."""
    if not was_open:
        return OPENED if count >= max(threshold, 1) else None
    if count == 0:
        return RESOLVED
    return GROWN if count >= 2 * max(said, 1) else None


def settled(reading: Reading | None, state: NotificationRuleState | None, now: datetime) -> bool:
    if reading is None or reading.latest is None:
        return True
    if now - reading.latest >= timedelta(seconds=settings.NOTIFY_SETTLE_SECONDS):
        return True
    held = state.held_since if state is not None else None
    return held is not None and now - held >= timedelta(seconds=settings.NOTIFY_MAX_HOLD_SECONDS)


# --- the check -----------------------------------------------------------------------------------------------


def check(now: datetime | None = None) -> int:
    """Evaluate every active rule once; returns the number of events that made messages."""
    now = now or timezone.now()
    rules = [rule for rule in NotificationRule.objects.filter(enabled=True).prefetch_related("channels")
             if not rule.silenced(now)]
    if not rules:
        return 0  # nothing configured (the default): not even a read
    readings = {kind: READERS[kind](now) for kind in {rule.kind for rule in rules}}
    states: dict[tuple[int, str], NotificationRuleState] = {
        (state.rule_id, state.subject): state for state in NotificationRuleState.objects.filter(rule__in=rules)
    }
    events = 0
    for rule in rules:
        present = readings[rule.kind]
        said_open = {subject for (rule_id, subject), s in states.items() if rule_id == rule.pk and s.open}
        for subject in sorted(set(present.subjects) | said_open):
            reading = present.subjects.get(subject)
            if reading is None and not present.complete:
                continue  # beyond the alert list's cap: unknown, not resolved
            events += evaluate(rule, subject, reading, states.get((rule.pk, subject)), now)
    return events


def evaluate(rule: NotificationRule, subject: str, reading: Reading | None, state: NotificationRuleState | None,
             now: datetime) -> int:
    count = reading.count if reading is not None else 0
    was_open, said = (state.open, state.count) if state is not None else (False, 0)
    event = step(was_open, said, count, rule.threshold if rule.kind == RuleKind.DISCARDS else 1)
    if event is None:
        if state is not None and state.held_since is not None:  # it fell back before it was told: start afresh
            NotificationRuleState.objects.filter(pk=state.pk).update(held_since=None)
        return 0
    if event != RESOLVED and not settled(reading, state, now):
        hold(rule, subject, state, now)
        return 0
    return int(record(rule, subject, event, reading, state, count, now))


def hold(rule: NotificationRule, subject: str, state: NotificationRuleState | None, now: datetime) -> None:
    """Remember when the message first became due, so a burst that never pauses is still told in time."""
    if state is None:
        try:
            with transaction.atomic():
                NotificationRuleState.objects.create(rule=rule, subject=subject, held_since=now, changed_at=now)
        except IntegrityError:
            pass  # an overlapping check made it
    elif state.held_since is None:
        NotificationRuleState.objects.filter(pk=state.pk, held_since__isnull=True).update(held_since=now)


def record(rule: NotificationRule, subject: str, event: str, reading: Reading | None,
           state: NotificationRuleState | None, count: int, now: datetime) -> bool:
    """The rule's new state and its messages, in one transaction; whether it made messages (False also when an
    overlapping check got there first)."""
    fields = {"open": event != RESOLVED, "count": count, "held_since": None, "changed_at": now}
    try:
        with transaction.atomic():
            if state is None:
                NotificationRuleState.objects.create(rule=rule, subject=subject, **fields)
            elif not NotificationRuleState.objects.filter(pk=state.pk, open=state.open, count=state.count).update(
                **fields
            ):
                return False
            if event == RESOLVED and not rule.notify_resolved:
                return False
            payload = compose(rule, subject, event, reading, count, said=state.count if state else 0, now=now)
            delivery.create(rule.channels.all(), payload, event=payload["type"], subject=subject, rule=rule)
    except IntegrityError:
        return False  # notify_state_one_per_subject: an overlapping check recorded it
    return True


def compose(rule: NotificationRule, subject: str, event: str, reading: Reading | None, count: int, *, said: int,
            now: datetime) -> dict:
    type_ = messages.TYPES[(rule.kind, event)]
    if event == RESOLVED:
        title, text = resolved_words(rule.kind, subject)
        return messages.message(type_, subject=subject, count=0, title=title, text=text, at=now, rule=rule)
    title = reading.title + (f" (was {said})" if event == GROWN else "")
    return messages.message(type_, subject=subject, count=count, title=title, text=reading.text, at=now,
                            path=reading.path, rule=rule)


@shared_task(name="contacts.notify.check_notifications", ignore_result=True, expires=10)
def check_notifications() -> None:
    """Beat runs this every NOTIFY_CHECK_SECONDS: the deliveries' sweep (retries, lost attempts), then the rules.

    A late run is simply the next check, so it is never retried.
    """
    delivery.sweep()
    check()
