"""The audit log as people read it: who, about what, and each entry's details as words; the admin's
configuration changes written into it; and the changes a contact's timeline shows beside its resubmit.

An entry's `details` are data (ids, codes, counts, the list's filters) kept for the record; the page
never prints them as they are stored. `describe()` turns them into `Part`s, plain text with an optional
link, which the templates put out escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import Q
from django.urls import reverse

from contacts.cce import config_changes
from contacts.cce.models import DialedNumber
from contacts.core.filters import ContactFilterForm
from contacts.core.formats import reason_name
from contacts.core.lifecycle import Kind, Source
from contacts.core.models import Contact, Feed, FeedNotification, Transition

from .models import AuditAction, AuditEntry

SHORT_ID = 8
# The timeline shows at most this many configuration changes (the latest before each resubmit): a
# discard left for weeks while the configuration was reworked must not make the contact's page read them all.
TIMELINE_CHANGES = 50


@dataclass(frozen=True)
class Part:
    """Text, or a link when `url` is set; `title` is its tooltip (a reason's code beside its name)."""

    text: str
    url: str = ""
    title: str = ""


Phrase = list[Part]  # parts read joined by spaces


# --- writing ------------------------------------------------------------------------------------------


def record_config_change(change: config_changes.ConfigChange) -> None:
    """The recorder contacts.apps registers with contacts.cce.config_changes: one entry per changed object."""
    AuditEntry.record(AuditAction.CONFIG_CHANGED, user=change.user, source=Source.ADMIN, details={"verb": change.verb},
                      target=change.target, target_key=change.key, changes=change.changes)


# --- reading -----------------------------------------------------------------------------------------


def user_name(entry: AuditEntry) -> str:
    """The user's full name, else the username (kept when the user is deleted)."""
    full = entry.user.get_full_name() if entry.user_id and entry.user else ""
    return full or entry.username or "—"


def short_id(public_id: str) -> str:
    return public_id[:SHORT_ID]


def contact_label(contact: Contact | None, public_id: str) -> str:
    """'Ada · 3F2A91C0': what a person knows the contact by, and enough of its id to tell two Adas apart."""
    name = (contact.name or contact.title) if contact is not None else ""
    return f"{name} · {short_id(public_id)}" if name else f"contact {short_id(public_id)}"


def value_text(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def config_fields(entry: AuditEntry) -> str:
    """'routing enabled yes → no; max tasks in queue 0 → 5' for a change; each field's value for a create or
    a delete ('name Chat, routing enabled yes')."""
    verb = entry.details.get("verb", config_changes.CHANGED)
    if verb == config_changes.CHANGED:
        return "; ".join(f"{name} {value_text(old)} → {value_text(new)}" for name, (old, new) in entry.changes.items())
    side = 1 if verb == config_changes.CREATED else 0
    return ", ".join(f"{name} {value_text(pair[side])}" for name, pair in entry.changes.items())


def config_text(entry: AuditEntry) -> str:
    """The audit page's details of a configuration change (its target has a column of its own)."""
    verb, fields = entry.details.get("verb", config_changes.CHANGED), config_fields(entry)
    return fields if verb == config_changes.CHANGED else f"{verb}: {fields}" if fields else verb


def config_sentence(entry: AuditEntry) -> str:
    """'changed MRD 5001 Chat: routing enabled no → yes', as a contact's timeline says it."""
    fields = config_fields(entry)
    return f"{entry.details.get('verb', config_changes.CHANGED)} {entry.target}" + (f": {fields}" if fields else "")


class References:
    """The contacts and feeds the page's entries name in their details, each kind read in one query."""

    def __init__(self, entries: list[AuditEntry]) -> None:
        ids = {e.details.get("new_contact") for e in entries if e.action == AuditAction.RESUBMIT} - {None}
        feeds = {e.details.get("filters", {}).get("feed") for e in entries if e.action == AuditAction.BULK_START}
        self.contacts = {c.public_id: c for c in Contact.objects.filter(public_id__in=ids).only(
            "public_id", "name", "title")} if ids else {}
        feed_ids = {int(f) for f in feeds if str(f).isdigit()}
        self.feeds = Feed.objects.in_bulk(feed_ids) if feed_ids else {}


def describe(entry: AuditEntry, refs: References) -> list[Phrase]:
    """The entry's details in words for the audit page: phrases (read joined by "; ") of parts, linked where
    there is something to open."""
    d = entry.details
    if entry.action == AuditAction.CONFIG_CHANGED:
        return [[Part(config_text(entry))]]
    if entry.action == AuditAction.RESUBMIT:
        phrases = [[Part(f"discarded: {reason_name(d['reason'])}", title=d["reason"])]] if d.get("reason") else []
        if d.get("script_selector"):
            phrases.append([Part(f"new selector {d['script_selector']}")])
        if new := d.get("new_contact"):
            url = reverse("dashboard-contact", args=[new]) if new in refs.contacts else ""
            phrases.append([Part("resubmitted as"), Part(contact_label(refs.contacts.get(new), new), url)])
        return phrases
    if entry.action == AuditAction.CANCEL:
        return [[Part(f"cancel requested ({d['rule']})")]] if d.get("rule") else []
    if entry.action == AuditAction.BULK_START:
        total = d.get("total", 0)
        return [[Part(f"{d.get('kind', '')} of {total} contact{'' if total == 1 else 's'}")],
                [Part(filters_text(d.get("filters") or {}, refs) or "no filter")]]
    if entry.action == AuditAction.BULK_FINISH:
        return [[Part(finish_text(d))]]
    if entry.action == AuditAction.ACKNOWLEDGE:
        alert = str(d.get("alert", ""))
        return [[Part(f"queue alert {alert[1:]}" if alert.startswith("q") else "discard alert")]]
    return [[Part(f"{key}: {value_text(value)}")] for key, value in d.items()]


def filters_text(filters: dict, refs: References) -> str:
    """'script selector: Waiting; MRD: 5002', in the contact list's own words for its filters."""
    fields = ContactFilterForm.base_fields
    shown = []
    # In the list's order of its filters (the stored JSON keeps none: PostgreSQL's jsonb sorts its keys).
    for name, value in sorted(filters.items(), key=lambda item: [*fields, item[0]].index(item[0])):
        field = fields.get(name)
        label = (field.label if field is not None else "") or name
        label = label if label.isupper() else label.lower()
        if name == "feed":
            value = refs.feeds.get(int(value), f"feed {value}") if str(value).isdigit() else value
        elif name == "window":
            value = f"last {value}"
        elif name in ("kind", "state"):
            value = dict(field.choices).get(value, value)
        elif name == "reason":
            value = "none" if value == "none" else reason_name(value)
        shown.append(f"{label}: {value_text(value)}")
    return "; ".join(shown)


def finish_text(d: dict) -> str:
    """'40 done: 38 resubmitted, 2 skipped (1 moved first, 1 already resubmitted)'."""
    verb = "resubmitted" if d.get("kind") == "resubmit" else "cancels requested"
    text = f"{d.get('done', 0)} done: {d.get('succeeded', 0)} {verb}, {d.get('skipped', 0)} skipped"
    skips = d.get("skips") or {}
    return text + (f" ({', '.join(f'{n} {why}' for why, n in skips.items())})" if skips else "")


def job_part(entry: AuditEntry) -> Part:
    return Part(f"bulk job #{entry.job_id}", reverse("workflows-job", args=[entry.job_id]))


def subject(entry: AuditEntry) -> Part | None:
    """What the entry is about: the contact (linked while it exists), the configuration object, or the job."""
    if entry.contact_public_id:
        url = reverse("dashboard-contact", args=[entry.contact_public_id]) if entry.contact_id else ""
        return Part(contact_label(entry.contact, entry.contact_public_id), url)
    if entry.target:
        return Part(entry.target)
    return job_part(entry) if entry.job_id else None


def readable(entries: list[AuditEntry]) -> list[AuditEntry]:
    """Give each entry `.who`, `.subject` and `.parts` (its details in words); a fixed number of queries for
    the whole page, however many entries (they come with their user, contact and job selected)."""
    refs = References(entries)
    for entry in entries:
        entry.who = user_name(entry)
        entry.subject = subject(entry)
        entry.parts = describe(entry, refs)
        if entry.job_id and entry.contact_public_id:  # one contact of a bulk job: the job is in the details
            entry.parts.append([Part("in"), job_part(entry)])
    return entries


# --- a contact's timeline ----------------------------------------------------------------------------


def contact_keys(contact: Contact, selectors: set[str]) -> set[str]:
    """The configuration a contact's CCE decision reads: its MRD, its script selectors (and theirs MRDs and
    scripts, as they are now), and the CCE settings (connection, throttle, backlog)."""
    keys, mrd_ids = {config_changes.CCE_KEY}, {contact.cce_mrd_id}
    selectors = selectors | {contact.cce_script_selector, contact.script_selector}
    if contact.kind == Kind.CALLBACK:
        notification = FeedNotification.objects.filter(feed_id=contact.feed_id).first()
        if notification is not None:
            selectors.add(notification.script_selector)
            mrd_ids.add(notification.mrd_id)
    selectors.discard("")
    for mrd_id, script_id in DialedNumber.objects.filter(string__in=selectors).values_list("mrd_id", "script_id"):
        mrd_ids.add(mrd_id)
        if script_id is not None:
            keys.add(config_changes.script_key(script_id))
    keys |= {config_changes.selector_key(s) for s in selectors}
    keys |= {config_changes.mrd_key(m) for m in mrd_ids if m is not None}
    return keys


def changes_before_resubmits(contact: Contact, timeline: list[Transition], entries: list[AuditEntry]
                             ) -> list[AuditEntry]:
    """The configuration changes to what the contact's decision reads made between each of its discards and
    the resubmit that answered it, oldest first: why the resubmit went through."""
    discarded_at = {row.pk: row.created_at for row in timeline}
    windows = [(discarded_at[e.details["discard"]], e.created_at, e.details.get("script_selector", ""))
               for e in entries if e.action == AuditAction.RESUBMIT and e.details.get("discard") in discarded_at]
    if not windows:
        return []
    keys = contact_keys(contact, {selector for _, _, selector in windows if selector})
    between = reduce(or_, (Q(created_at__gt=start, created_at__lte=end) for start, end, _ in windows))
    # By target and time (audit_target_time_idx): a few index ranges, never the whole log.
    found = (AuditEntry.objects.filter(between, target_key__in=keys, action=AuditAction.CONFIG_CHANGED)
             .select_related("user").order_by("-created_at", "-id")[:TIMELINE_CHANGES])
    rows = sorted(found, key=lambda e: (e.created_at, e.pk))
    for row in rows:
        row.sentence = config_sentence(row)
        row.who = user_name(row)
    return rows
