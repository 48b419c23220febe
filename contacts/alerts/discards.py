"""Discard alerts: which transitions are alerts, where each one's fix is (`fix_link`), the alert format, grouping.

A discard alert IS its discard `Transition` (see `alerts_models`): a move to `discarded` with an error
code, never a cancel that succeeded. Queue alerts (`queue_alerts`) share the format below; reading
and acknowledging both kinds is `alert_feed`.

Alert (JSON object; the feed, the first paint and the `alert.queue` broadcast all use it):
    key         "d<transition id>" for a discard, "q<queue alert id>" for a queue alert
    kind        "discard" | "queue"
    id          the transition or queue alert id (the cursor the page resyncs by)
    at          ISO 8601 time it was raised
    code        the discard code, or QUEUE_MAX_QUEUED / QUEUE_MAX_OLDEST
    scope       where the cause is, e.g. "in Sales", "in MRD 5001", "on feed 201" ("" if CCE-wide)
    group       what a burst is grouped by: code and scope, e.g. "NOTIFICATION_NO_SCRIPT in Sales"
    cause, fix  texts for the supervisor (lifecycle.DISCARD_REASONS for a discard)
    link        {"label", "url"} of the page where the cause is fixed, or null
    alternative a second such link, or null (INVALID_MRD_ID: create the MRD instead)
    contact     {"id", "name", "url"} of the discarded contact; null for a queue alert
    mrd         the MRD id, or null
    cleared_at  ISO 8601 time a queue alert went back under its threshold; null while open (and for discards)
    ack         {"id", "alert", "user", "at"} once someone acknowledged it, else null

Broadcasts over the dashboard group (`broadcast.DASHBOARD_GROUP`), forwarded as they are by the consumer:
    {"type": "alert.ack", "acks": [ack, ...], "more": bool}   acknowledgements, each with its own id;
                        "more": there were too many for one message, re-read the feed
    {"type": "alert.queue", "alert": alert}                    a queue alert raised or cleared
A discard needs no message of its own: its transition event is the hint, and the page reads the
alert (with its fix link) from the feed. Messages are hints; the feed is the truth.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import OuterRef, QuerySet, Subquery
from django.urls import reverse

from contacts.cce.models import CceSettings, DialedNumber, MediaRoutingDomain
from contacts.core.formats import reason_name
from contacts.core.lifecycle import CANCEL_SUCCEEDED, DISCARD_REASONS, Reason, State
from contacts.core.models import Contact, FeedNotification, Transition

from .models import AlertAcknowledgement

ERROR_CODES = frozenset(code for code in DISCARD_REASONS if code not in CANCEL_SUCCEEDED)
SELECTOR_CAUSES = frozenset({Reason.NO_SCRIPT, Reason.INVALID_SCRIPT_SELECTOR, Reason.UNKNOWN_ERROR})
MRD_CAUSES = frozenset({Reason.MEDIA_ROUTING_DISABLED, Reason.ROUTER_RELEASED_TASK})
CCE_WIDE_CAUSES = frozenset({Reason.CCE_CONNECTION_FAILURE, Reason.RATE_LIMITED})


def is_alert(row: Transition) -> bool:
    """A move to discarded with an error code; a successful cancel is what someone asked for, not an alert."""
    return row.to_state == State.DISCARDED and row.to_reason in ERROR_CODES


def discard_alerts() -> QuerySet[Transition]:
    """Every discard alert (the `transition_to_time_idx` index covers the filter)."""
    return Transition.objects.filter(to_state=State.DISCARDED, to_reason__in=ERROR_CODES)


# --- where the fix is ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FixLink:
    """The page where an admin removes a discard's cause, and where that cause is (`scope`, for grouping)."""

    label: str
    url: str
    scope: str = ""
    alternative: FixLink | None = None
    # Where the admin goes once the fix is saved (the admin's `next`, `ReturnsToNext`): the resubmit offer.
    back: str = ""

    def as_json(self) -> dict:
        href = self.url
        if self.back:
            href = f"{self.url}{'&' if '?' in self.url else '?'}{urlencode({'next': self.back})}"
        return {"label": self.label, "url": href, "perm": getattr(self.url, "perm", None)}


@dataclass
class ConfigSnapshot:
    """The configuration `fix_link` looks at, read once for a whole batch of alerts (not once per alert)."""

    dialed_numbers: dict[str, int] = field(default_factory=dict)  # script selector -> DialedNumber pk
    mrds: dict[int, str] = field(default_factory=dict)  # MRD id -> name
    notified_feeds: set[int] = field(default_factory=set)  # feeds that have a CCE notification
    cce_settings_saved: bool = False

    @classmethod
    def load(cls, contacts: Iterable[Contact]) -> ConfigSnapshot:
        contacts = list(contacts)
        selectors = {selector_of(contact) for contact in contacts} - {""}
        feeds = {contact.feed_id for contact in contacts}
        return cls(
            dialed_numbers=dict(DialedNumber.objects.filter(string__in=selectors).values_list("string", "pk")),
            mrds=dict(MediaRoutingDomain.objects.values_list("id", "name")),
            notified_feeds=set(FeedNotification.objects.filter(feed_id__in=feeds).values_list("feed_id", flat=True)),
            cce_settings_saved=CceSettings.objects.filter(pk=CceSettings.SINGLETON_ID).exists(),
        )


def selector_of(contact: Contact) -> str:
    """The script selector the CCE used, else the one the contact asked for."""
    return contact.cce_script_selector or contact.script_selector


class AdminUrl(str):
    """An admin page's URL that knows the permission a user needs to act on it there (`perm`).

    A fix link is shown only to those who have it (`followable`): a supervisor cannot open the admin, and a
    link that answers 403 is a promise the page should not make.
    """

    perm: str


# The admin's views, and the permission that makes each one a place to fix something.
ADMIN_ACTION_PERMS = {"change": "change", "add": "add", "changelist": "view"}


def admin_url(model: str, action: str, pk: object = None, **prefill: object) -> AdminUrl:
    url = reverse(f"admin:contacts_{model}_{action}", args=[pk] if pk is not None else [])
    link = AdminUrl(f"{url}?{urlencode(prefill)}" if prefill else url)
    link.perm = f"contacts.{ADMIN_ACTION_PERMS[action]}_{model}"
    return link


def followable(link: dict | None, perms) -> bool:
    """Whether a user with `perms` (their permission names) may follow the alert's `link`."""
    return bool(link) and (not link.get("perm") or link["perm"] in perms)


def fix_permissions(user) -> list[str]:
    """The permissions a page's fix links are checked against: the user's own, of this app."""
    return sorted(perm for perm in user.get_all_permissions() if perm.startswith("contacts."))


def fix_link(contact: Contact, reason: str, config: ConfigSnapshot | None = None) -> FixLink:
    """Where the admin fixes the cause of `contact`'s discard with `reason`: the one mapping of reason to page.

    Pass a `ConfigSnapshot` loaded for a batch to avoid its queries per alert.
    """
    config = config if config is not None else ConfigSnapshot.load([contact])
    link = _admin_fix_link(contact, reason, config)
    if link is None:
        # The request itself is at fault (INVALID_NEW_TASK_MESSAGE, INVALID_FIELD_LENGTH) or only a resubmit
        # helps (CCE_CCP_FAILOVER): the contact's own page, where admins resubmit.
        contact_page = reverse("dashboard-contact", args=[contact.public_id])
        return FixLink("Open the contact", contact_page, f"on feed {contact.feed_id}")
    # Once the fix is saved, the admin is taken to the resubmit offer of the alert's group.
    back = resubmit_offer(reason, link.scope)
    alternative = replace(link.alternative, back=back) if link.alternative else None
    return replace(link, back=back, alternative=alternative)


def resubmit_offer(reason: str, scope: str) -> str:
    """The bulk resubmit preview of the discards with `reason` in `scope` (an alert group's: "in Sales",
    "in MRD 5001", "on feed 200", or none): the contact list's filters for that code and place."""
    filters = {"state": State.DISCARDED, "reason": reason}
    if scope.startswith("in MRD "):
        filters["mrd"] = scope.removeprefix("in MRD ")
    elif scope.startswith("in "):
        filters["selector"] = scope.removeprefix("in ")
    elif scope.startswith("on feed "):
        filters["feed"] = scope.removeprefix("on feed ")
    return f"{reverse('workflows-bulk', args=['resubmit'])}?{urlencode(filters)}"


def _admin_fix_link(contact: Contact, reason: str, config: ConfigSnapshot) -> FixLink | None:
    """The admin page that removes the cause, or None when no configuration is at fault."""
    if reason in SELECTOR_CAUSES:
        return selector_link(selector_of(contact), config)
    if reason in MRD_CAUSES:
        return mrd_link(contact.cce_mrd_id, config)
    if reason == Reason.INVALID_MRD_ID:
        return notification_link(contact, config)
    if reason in CCE_WIDE_CAUSES:
        if config.cce_settings_saved:
            return FixLink("Open the CCE settings", admin_url("ccesettings", "change", CceSettings.SINGLETON_ID))
        return FixLink("Open the CCE settings", admin_url("ccesettings", "add"))
    return None


def selector_link(selector: str, config: ConfigSnapshot) -> FixLink:
    scope = f"in {selector}" if selector else ""
    if selector in config.dialed_numbers:
        change = admin_url("dialednumber", "change", config.dialed_numbers[selector])
        return FixLink(f"Open script selector {selector}", change, scope)
    add = admin_url("dialednumber", "add", **({"string": selector} if selector else {}))
    return FixLink(f"Create script selector {selector}".rstrip(), add, scope)


def mrd_link(mrd_id: int | None, config: ConfigSnapshot) -> FixLink:
    if mrd_id is None:
        return FixLink("Open the MRDs", admin_url("mediaroutingdomain", "changelist"))
    scope = f"in MRD {mrd_id}"
    if mrd_id in config.mrds:
        change = admin_url("mediaroutingdomain", "change", mrd_id)
        return FixLink(f"Open MRD {mrd_id} {config.mrds[mrd_id]}", change, scope)
    return FixLink(f"Create MRD {mrd_id}", admin_url("mediaroutingdomain", "add", id=mrd_id), scope)


def notification_link(contact: Contact, config: ConfigSnapshot) -> FixLink:
    """INVALID_MRD_ID: the feed's page (its notification inline); creating the MRD is the alternative."""
    scope, feed_page = f"on feed {contact.feed_id}", admin_url("feed", "change", contact.feed_id)
    if contact.feed_id not in config.notified_feeds:
        return FixLink(f"Add a CCE notification to feed {contact.feed_id}", feed_page, scope)
    mrd_id, create = contact.cce_mrd_id, None
    if mrd_id is not None and mrd_id not in config.mrds:
        create = FixLink(f"Create MRD {mrd_id}", admin_url("mediaroutingdomain", "add", id=mrd_id))
    return FixLink(f"Fix the notification of feed {contact.feed_id}", feed_page, scope, create)


# --- the alert format ------------------------------------------------------------------------------------


def ack_json(ack: AlertAcknowledgement) -> dict:
    return {
        "id": ack.pk,
        "alert": ack.alert_key,
        "user": ack.user.get_username() if ack.user_id else None,
        "at": ack.at.isoformat(),
    }


def ack_of(row: Transition | object) -> dict | None:
    """The alert's acknowledgement (select_related("acknowledgement__user") first), or None."""
    try:
        return ack_json(row.acknowledgement)
    except ObjectDoesNotExist:
        return None


def discard_alert(row: Transition, config: ConfigSnapshot) -> dict:
    """The alert of one discard transition (load it with `alert_rows()` so this makes no query)."""
    contact = row.contact
    info = DISCARD_REASONS[row.to_reason]
    fix = fix_link(contact, row.to_reason, config)
    return {
        "key": f"d{row.pk}",
        "kind": "discard",
        "id": row.pk,
        "at": row.created_at.isoformat(),
        "code": row.to_reason,
        "name": reason_name(row.to_reason),
        "scope": fix.scope,
        "group": f"{row.to_reason} {fix.scope}".strip(),
        "cause": info.cause,
        "fix": info.fix,
        "link": fix.as_json(),
        "alternative": fix.alternative.as_json() if fix.alternative else None,
        "contact": {
            "id": contact.public_id,
            "name": contact.name or contact.public_id,
            "url": reverse("dashboard-contact", args=[contact.public_id]),
        },
        "mrd": contact.cce_mrd_id,
        "cleared_at": None,
        "resolved": is_resolved(row),
        "ack": ack_of(row),
    }


def is_resolved(row: Transition) -> bool:
    """Whether the discard is behind its contact: it moved on since (a task renotified, a contact handled,
    cancelled or discarded again: a newer alert then stands for it), or, a callback, it was resubmitted as a
    new contact. A purged contact takes its alerts with it. Rows of `alert_rows()` carry `latest_id`; a
    discard just made is its contact's latest move."""
    contact = row.contact
    if getattr(row, "latest_id", row.pk) != row.pk or contact.state != State.DISCARDED:
        return True
    try:
        return contact.resubmission is not None
    except Contact.resubmission.RelatedObjectDoesNotExist:
        return False


def alert_rows() -> QuerySet[Transition]:
    """Discard alerts with what their alert shows, in one query (the payload stays in the database): each
    one's acknowledgement, its contact, that contact's resubmission and its latest move (an index lookup)."""
    latest = Transition.objects.filter(contact=OuterRef("contact")).order_by("-id").values("id")[:1]
    return (
        discard_alerts()
        .select_related("contact", "contact__resubmission", "acknowledgement__user")
        .defer("contact__description", "contact__variables", "contact__tags", "contact__resubmission__description",
               "contact__resubmission__variables", "contact__resubmission__tags")
        .annotate(latest_id=Subquery(latest))
    )


def discard_alert_list(rows: Iterable[Transition]) -> list[dict]:
    rows = list(rows)
    config = ConfigSnapshot.load(row.contact for row in rows)
    return [discard_alert(row, config) for row in rows]


# --- grouping ----------------------------------------------------------------------------------------------


def summarize(alerts: Iterable[dict]) -> list[dict]:
    """Alerts grouped as a burst is shown ("14 × NOTIFICATION_NO_SCRIPT in Sales"), the group seen last first.

    Each group: group, count, keys (oldest first), latest (the newest alert: its cause, fix and links
    stand for the group), text. alerts.js groups live toasts by the same `group` field.
    """
    groups: dict[str, dict] = {}
    for alert in sorted(alerts, key=lambda a: (a["at"], a["id"])):
        group = groups.setdefault(alert["group"], {"group": alert["group"], "count": 0, "keys": []})
        group["count"] += 1
        group["keys"].append(alert["key"])
        group["latest"] = alert
    for group in groups.values():
        group["text"] = f"{group['count']} × {group['group']}"
    return sorted(groups.values(), key=lambda g: (g["latest"]["at"], g["latest"]["id"]), reverse=True)
