"""What a person may do to a contact — cancel it, resubmit it — as one set of functions every caller shares.

The dashboard's views, the Django admin's actions, the bulk jobs (contacts.workflows.jobs) and the CCP API
all call these, so a cancel or a resubmit means the same thing wherever it is asked for. State changes
go through `contacts.core.lifecycle`; an action taken by a person writes its `AuditEntry` in the same
transaction. A refused action raises `ActionRefused` and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from contacts.cce.decisions import Decision, decide
from contacts.core import lifecycle
from contacts.core.formats import reason_name
from contacts.core.lifecycle import CANCEL_SUCCEEDED, DISCARD_REASONS, Kind, Reason, Source, State, TransitionRefused
from contacts.core.models import Contact, Transition

from .models import AuditAction, AuditEntry, BulkJob, ResubmitClaim

CANCEL_TARGET = {Kind.CALLBACK: lifecycle.CB_CANCELLING, Kind.TASK: lifecycle.TASK_CANCELLING}
# The payload a resubmitted callback carries over from its original (spec §4's fields).
PAYLOAD_FIELDS = ("name", "title", "description", "script_selector", "media_address", "requeue_on_recovery",
                  "tags", "variables")
# Sources whose actions are a person's, and so audited (the CCP API's are the client's, in the transitions).
AUDITED_SOURCES = frozenset({Source.DASHBOARD, Source.ADMIN})


class Why:
    """Short codes for a refusal: bulk jobs count their skips by them."""

    NOT_CANCELLABLE = "not cancellable"
    CANCEL_IN_FLIGHT = "cancel already in flight"
    NOT_DISCARDED = "not discarded"
    CANCELLED = "cancelled"
    ALREADY_RESUBMITTED = "already resubmitted"
    CHANGED = "changed since previewed"
    MOVED = "moved first"
    RENOTIFYING = "already renotifying"
    CAUSE_PRESENT = "cause still present"


class ActionRefused(Exception):
    """The action did not happen: `message` says why to a person, `code` is one of `Why`, `pair` is the
    position that forbade it."""

    def __init__(self, message: str, pair: lifecycle.Pair | None = None, code: str = Why.MOVED) -> None:
        super().__init__(message)
        self.message, self.pair, self.code = message, pair, code


@dataclass(frozen=True)
class Answer:
    """A yes/no with the reason a person reads and its `Why` code; truthy when the answer is yes."""

    ok: bool
    reason: str = ""
    code: str = ""

    def __bool__(self) -> bool:
        return self.ok

    def refuse(self, pair: lifecycle.Pair | None) -> ActionRefused:
        return ActionRefused(self.reason, pair, self.code)


# --- cancel ------------------------------------------------------------------------------------------


def cancellable(contact: Contact) -> Answer:
    """Whether C5/T6 applies where the contact is now: unread, or queued and not already cancelling."""
    if lifecycle.rule_for(contact.kind, contact.pair, CANCEL_TARGET[contact.kind]) is None:
        return Answer(False, f"a contact at {contact.pair} cannot be cancelled", Why.NOT_CANCELLABLE)
    return Answer(True)


def cancel_from(kind: str) -> list[list[str]]:
    """The (state, reason) pairs a contact of `kind` may be cancelled from, as the table lists them."""
    target = CANCEL_TARGET[kind]
    return sorted([list(pair) for pair, to_pair in lifecycle.MOVES[kind] if pair is not None and to_pair == target])


def request_cancel(contact: Contact, *, source: str, user=None, comment: str = "", job: BulkJob | None = None
                   ) -> Transition:
    """C5/T6: ask the CCE to remove the contact from its queue; the cancel pipeline then does C6/T7 or C7/T8."""
    target = CANCEL_TARGET[contact.kind]
    answer = cancellable(contact)
    if not answer:
        raise answer.refuse(contact.pair)
    try:
        with transaction.atomic():
            row = lifecycle.transition(contact, *target, source=source, user=user, comment=comment)
            if row is None:  # a concurrent cancel made the same move first: this one did nothing
                raise ActionRefused("a cancel is already in flight", target, Why.CANCEL_IN_FLIGHT)
            _audit(AuditAction.CANCEL, contact, source=source, user=user, comment=comment, job=job,
                   details={"rule": row.rule})
    except TransitionRefused as refused:
        raise ActionRefused(f"the contact moved to {refused.actual} first", refused.actual) from None
    return row


# --- resubmit -----------------------------------------------------------------------------------------


def latest_discard(contact: Contact) -> Transition | None:
    """The move that put the contact where it is, if it is discarded: the discard a resubmit answers."""
    if contact.state != State.DISCARDED:
        return None
    return contact.transitions.filter(to_state=State.DISCARDED, to_reason=contact.reason).order_by("-id").first()


def resubmittable(contact: Contact) -> Answer:
    """Whether an admin may resubmit the contact now, and if not, why."""
    if contact.state != State.DISCARDED:
        return Answer(False, f"only a discarded contact can be resubmitted; this one is {contact.state}",
                      Why.NOT_DISCARDED)
    if contact.reason in CANCEL_SUCCEEDED:
        return Answer(False, "a cancelled contact is never resubmitted", Why.CANCELLED)
    if contact.kind == Kind.CALLBACK:
        again = Contact.objects.filter(resubmitted_from=contact).values_list("public_id", flat=True).first()
        if again:
            return Answer(False, f"already resubmitted as {again}", Why.ALREADY_RESUBMITTED)
    discard = latest_discard(contact)
    if discard is not None and ResubmitClaim.objects.filter(contact=contact, discard=discard).exists():
        return Answer(False, "this discard was already resubmitted", Why.ALREADY_RESUBMITTED)
    return Answer(True)


def resubmit(contact: Contact, *, source: str, user=None, comment: str = "", script_selector: str | None = None,
             discard_id: int | None = None, job: BulkJob | None = None) -> Contact:
    """Resubmit a discarded contact: a task in place (T9, optionally with another script selector), a
    callback as a NEW contact recording the original. Returns the contact that carries the resubmission.

    `discard_id` (the discard the admin looked at) refuses the resubmit if the contact was discarded
    again since. The claim row makes a second resubmit of the same discard fail on the database's
    unique constraint, whichever caller, job or process gets there second.
    """
    answer = resubmittable(contact)
    if not answer:
        raise answer.refuse(contact.pair)
    discard = latest_discard(contact)
    script_selector = script_selector if contact.kind == Kind.TASK else None  # a callback's is its feed's
    if discard is None or (discard_id is not None and discard.pk != discard_id):
        raise ActionRefused("the contact changed since you looked at it; look again", contact.pair, Why.CHANGED)
    try:
        with transaction.atomic():
            claim = ResubmitClaim.objects.create(contact=contact, discard=discard, job=job)
            if contact.kind == Kind.TASK:
                renotify(contact, source=source, user=user, comment=comment, script_selector=script_selector)
                result = contact
            else:
                result = _submit_again(contact, source=source, user=user)
            ResubmitClaim.objects.filter(pk=claim.pk).update(result=result)
            _audit(AuditAction.RESUBMIT, contact, source=source, user=user, comment=comment, job=job,
                   details=_resubmit_details(contact, result, discard, script_selector))
    except IntegrityError:
        # The claim (or the callback's one-to-one lineage) was taken by a concurrent resubmit that won.
        raise ActionRefused("this discard was already resubmitted", contact.pair, Why.ALREADY_RESUBMITTED) from None
    return result


def renotify(contact: Contact, *, source: str, user=None, comment: str = "", script_selector: str | None = None
             ) -> Transition:
    """T9 from any position the table allows, optionally with another script selector.

    The CCP API's renotify calls this directly; an admin's goes through `resubmit` (claim and audit).
    """
    changes = {"script_selector": script_selector} if script_selector else None
    try:
        row = lifecycle.transition(contact, *lifecycle.TASK_RENOTIFYING, source=source, user=user, comment=comment,
                                   changes=changes)
    except TransitionRefused as refused:
        raise ActionRefused(f"a task at {refused.actual} cannot be renotified", refused.actual) from None
    if row is None:  # already renotifying: a no-op is not a renotify
        raise ActionRefused("the task is already being renotified", contact.pair, Why.RENOTIFYING)
    return row


def _submit_again(original: Contact, *, source: str, user) -> Contact:
    payload = {name: getattr(original, name) for name in PAYLOAD_FIELDS}
    return lifecycle.create(Kind.CALLBACK, original.feed, source=source, user=user, resubmitted_from=original,
                            attempt=original.attempt + 1, **payload)


def _resubmit_details(contact: Contact, result: Contact, discard: Transition, script_selector: str | None) -> dict:
    details = {"discard": discard.pk, "reason": discard.to_reason}
    if result.pk != contact.pk:
        details["new_contact"] = result.public_id
    if script_selector:
        details["script_selector"] = script_selector
    return details


def _audit(action: str, contact: Contact, *, source: str, user, comment: str, job: BulkJob | None,
           details: dict) -> None:
    if source in AUDITED_SOURCES:
        AuditEntry.record(action, user=user, source=source, contact=contact, job=job, comment=comment,
                          details=details)


# --- is the cause still there? --------------------------------------------------------------------------

# What decide() found, said to an admin; {still} is "still " when it is the cause the contact was discarded for.
CAUSE_TEXT = {
    Reason.CCE_CONNECTION_FAILURE: "the MR PG connection is {still}down",
    Reason.INVALID_FIELD_LENGTH: "a variable {still}exceeds a CCE field limit",
    Reason.INVALID_NEW_TASK_MESSAGE: "the route request is {still}malformed (mediaType or an ECC variable name)",
    Reason.INVALID_MRD_ID: "MRD {mrd} {still}does not exist",
    Reason.INVALID_SCRIPT_SELECTOR: "script selector “{selector}” {still}does not exist",
    Reason.MEDIA_ROUTING_DISABLED: "routing is {still}disabled on MRD {mrd}",
    Reason.NO_SCRIPT: "script selector “{selector}” {still}has no routing script",
    Reason.ROUTER_RELEASED_TASK: "the router would {still}release it (a release script, or MRD {mrd}'s queue is full)",
    Reason.UNKNOWN_ERROR: "the routing script of “{selector}” {still}fails with an unknown error",
}


@dataclass(frozen=True)
class Verdict:
    """decide()'s answer for a resubmit now: would it queue, is the original cause still there, in words."""

    would_queue: bool
    reason: str
    still_present: bool
    message: str
    fix: str

    def as_json(self) -> dict:
        return {"would_queue": self.would_queue, "reason": self.reason, "still_present": self.still_present,
                "message": self.message, "fix": self.fix}


def cause_still_present(contact: Contact, script_selector: str | None = None) -> Verdict:
    """Run decide() (side-effect free) on the contact as it would be resubmitted, with `script_selector`
    replacing a task's own; say whether the discard's cause is still there."""
    probe = contact
    if script_selector and contact.kind == Kind.TASK:
        probe = Contact(pk=contact.pk, kind=contact.kind, feed_id=contact.feed_id, script_selector=script_selector,
                        variables=contact.variables)
    return verdict_for(contact.reason, decide(probe))


def verdict_for(original_reason: str, decision: Decision) -> Verdict:
    if decision.queued:
        where = f"MRD {decision.mrd_id}" + (f" (script selector “{decision.script_selector}”)"
                                            if decision.script_selector else "")
        return Verdict(True, decision.reason, False, f"The cause is gone: it would be queued in {where}.", "")
    same = decision.reason == original_reason
    text = CAUSE_TEXT.get(decision.reason, "it would {still}be discarded: " + reason_name(decision.reason)).format(
        still="still " if same else "", mrd=decision.mrd_id if decision.mrd_id is not None else "—",
        selector=decision.script_selector or "—",
    )
    info = DISCARD_REASONS.get(decision.reason)
    if same:
        message = f"The cause is still present: {text}."
    else:
        message = f"The original cause is gone, but it would be discarded again: {text} ({decision.reason})."
    return Verdict(False, decision.reason, same, message, info.fix if info else "")
