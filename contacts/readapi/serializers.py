"""What the read API answers, field by field: each serializer is both the JSON and its OpenAPI schema.

The values come from the selectors the pages use (contacts.figures, contacts.dashboard.lists, contacts.alerts,
contacts.workflows); a serializer only names and types them. States, reason codes and the other fixed sets are
enums taken from their TextChoices, so the schema lists exactly what the code can answer.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.alerts.groups import ACKNOWLEDGED, NEW_SINCE_ACK, OPEN, RESOLVED
from contacts.core.formats import reason_name
from contacts.core.lifecycle import Kind, Reason, Source, State
from contacts.dashboard.kpis import KEYS, LEVELS
from contacts.figures.catalogue import FIGURES
from contacts.workflows.models import AuditAction, BulkJobKind, BulkJobState

# (value, label) pairs, as the schema's named enums (settings ENUM_NAME_OVERRIDES) are matched by them.
STATES = State.choices
REASONS = Reason.choices  # "" is a contact with no reason
KINDS = Kind.choices
ALERT_KINDS = ["discard", "queue"]


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="Why the request was refused.")


class BadRequestSerializer(ErrorSerializer):
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                   help_text="Each refused query parameter with what is wrong with it.")


# --- figures and queues ---------------------------------------------------------------------------------


class FigureSerializer(serializers.Serializer):
    key = serializers.ChoiceField(choices=[figure.key for figure in FIGURES])
    label = serializers.CharField()
    unit = serializers.CharField(help_text="contacts, seconds, ratio (0 to 1), agents or slots.")
    counts = serializers.CharField(help_text="What the figure counts, in words.")
    window = serializers.CharField(source="window.key", help_text='"now" (positions at the moment) or "today".')
    window_label = serializers.CharField(source="window.label")
    formula = serializers.CharField()
    total = serializers.CharField(help_text="How the total row is formed from the MRDs' rows.")
    per_mrd = serializers.BooleanField(help_text="False: in the total row only.")


class FigureValuesSerializer(serializers.Serializer):
    """The catalogue's figures of one row (contacts.figures.compute.queue_figures)."""

    waiting = serializers.IntegerField(min_value=0)
    longest_wait = serializers.IntegerField(min_value=0, allow_null=True, help_text="Seconds; null when nobody waits.")
    longest_wait_contact = serializers.CharField(allow_null=True, help_text="Public id of the longest waiting.")
    handled = serializers.IntegerField(min_value=0)
    discarded = serializers.IntegerField(min_value=0)
    cancelled = serializers.IntegerField(min_value=0)
    left_queue = serializers.IntegerField(min_value=0)
    answered_in_threshold = serializers.IntegerField(min_value=0)
    service_level = serializers.FloatField(min_value=0, max_value=1, allow_null=True,
                                           help_text="0 to 1; null when nothing left the queue today.")
    estimated_wait = serializers.IntegerField(min_value=-1, help_text="Seconds; -1 when unknown.")
    ready_agents = serializers.IntegerField(min_value=0)
    free_slots = serializers.IntegerField(min_value=0)


class TotalValuesSerializer(FigureValuesSerializer):
    backlog = serializers.IntegerField(min_value=0, help_text="Contacts waiting for the throttle.")


LevelsSerializer = type("LevelsSerializer", (serializers.Serializer,), {
    "__doc__": "The KPI panel's colour of each of its figures: ok, amber or red against the MRD's alert rule.",
    **{key: serializers.ChoiceField(choices=LEVELS) for key in KEYS},
})


class QueueSerializer(serializers.Serializer):
    mrd = serializers.IntegerField(help_text="The MRD's id.")
    name = serializers.CharField()
    figures = FigureValuesSerializer()
    levels = LevelsSerializer()


class OtherContactsSerializer(serializers.Serializer):
    figures = FigureValuesSerializer(help_text="Contacts of no configured MRD: not submitted yet, refused before "
                                               "an MRD was known, or naming an MRD the configuration lacks.")


class TotalSerializer(serializers.Serializer):
    figures = TotalValuesSerializer()
    levels = LevelsSerializer(help_text="The worst of the MRDs' levels.")


class QueuesSerializer(serializers.Serializer):
    at = serializers.DateTimeField(help_text="When the figures were read.")
    time_zone = serializers.CharField(help_text='The zone "today" starts at midnight in (TIME_ZONE).')
    queues = QueueSerializer(many=True, help_text="One row per configured MRD, quiet ones too, by id.")
    unknown_mrd = OtherContactsSerializer()
    total = TotalSerializer()


# --- contacts -------------------------------------------------------------------------------------------


class ContactListItemSerializer(serializers.Serializer):
    public_id = serializers.CharField()
    kind = serializers.ChoiceField(choices=KINDS)
    feed = serializers.IntegerField(source="feed_id")
    state = serializers.ChoiceField(choices=STATES)
    reason = serializers.ChoiceField(choices=REASONS, help_text='The contract\'s reason code; "" for none.')
    reason_name = serializers.SerializerMethodField()
    name = serializers.CharField()
    title = serializers.CharField()
    mrd = serializers.IntegerField(source="cce_mrd_id", allow_null=True, help_text="The MRD the CCE used.")
    script_selector = serializers.CharField(help_text="The selector the client sent (tasks).")
    cce_script_selector = serializers.CharField(help_text="The selector the CCE used.")
    created_at = serializers.DateTimeField()

    def get_reason_name(self, contact) -> str:
        return reason_name(contact.reason)


class ContactPageSerializer(serializers.Serializer):
    results = ContactListItemSerializer(many=True, help_text="Newest first, at most 50.")
    next = serializers.URLField(allow_null=True, help_text="The next (older) page; null on the last.")
    previous = serializers.URLField(allow_null=True, help_text="The previous (newer) page; null on the first.")


class TransitionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rule = serializers.CharField(help_text="The row of the contract's move table, e.g. T7.")
    from_state = serializers.ChoiceField(choices=[("", ""), *STATES], help_text='"" for the creation.')
    from_reason = serializers.ChoiceField(choices=REASONS)
    to_state = serializers.ChoiceField(choices=STATES)
    to_reason = serializers.ChoiceField(choices=REASONS)
    source = serializers.ChoiceField(choices=Source.choices)
    user = serializers.SerializerMethodField()
    comment = serializers.CharField()
    at = serializers.DateTimeField(source="created_at")

    def get_user(self, row) -> str | None:
        return row.user.get_username() if row.user_id and row.user else None


class VariableSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.CharField()


class ContactSerializer(ContactListItemSerializer):
    description = serializers.CharField()
    media_address = serializers.CharField()
    requeue_on_recovery = serializers.BooleanField()
    tags = serializers.ListField(child=serializers.CharField())
    variables = VariableSerializer(many=True)
    estimated_wait = serializers.IntegerField(allow_null=True, help_text="Seconds the CCE estimated; -1 unknown.")
    cce_task_id = serializers.CharField()
    agent_id = serializers.CharField()
    attempt = serializers.IntegerField(min_value=1)
    resubmitted_from = serializers.SerializerMethodField(help_text="The discarded contact this one resubmits.")
    resubmission = serializers.SerializerMethodField(help_text="The contact that resubmitted this one.")
    updated_at = serializers.DateTimeField()
    timeline = TransitionSerializer(many=True, help_text="Every move, oldest first.")

    def get_resubmitted_from(self, contact) -> str | None:
        return contact.resubmitted_from.public_id if contact.resubmitted_from_id else None

    def get_resubmission(self, contact) -> str | None:
        resubmission = getattr(contact, "resubmission", None)
        return resubmission.public_id if resubmission else None


# --- alert groups -----------------------------------------------------------------------------------------


class FixLinkSerializer(serializers.Serializer):
    label = serializers.CharField()
    url = serializers.CharField(help_text="A path on this site.")


class AlertGroupSerializer(serializers.Serializer):
    group = serializers.CharField(help_text='The cause and place, e.g. "NOTIFICATION_NO_SCRIPT in Sales".')
    kind = serializers.ChoiceField(choices=ALERT_KINDS)
    code = serializers.CharField(help_text="A discard's reason code or a queue alert's code.")
    name = serializers.CharField()
    scope = serializers.CharField()
    fix = serializers.CharField(help_text="What fixes the cause, in words.")
    fix_link = FixLinkSerializer(allow_null=True, help_text="Where to fix it; null unless the user may act there.")
    resubmit = serializers.CharField(allow_null=True, help_text="The bulk resubmit preview of the group's "
                                     "discards; null for queue alerts and users who may not resubmit.")
    latest = serializers.DateTimeField()
    count = serializers.IntegerField(min_value=1)
    unacknowledged = serializers.IntegerField(min_value=0)
    open = serializers.IntegerField(min_value=0, help_text="Alerts not resolved.")
    status = serializers.ChoiceField(choices=[OPEN, NEW_SINCE_ACK, ACKNOWLEDGED, RESOLVED])
    keys = serializers.ListField(child=serializers.CharField(), help_text="The unacknowledged alerts' keys.")


class AlertGroupsSerializer(serializers.Serializer):
    groups = AlertGroupSerializer(many=True, help_text="Open groups first (the busiest first), then resolved.")
    total = serializers.IntegerField(min_value=0)
    open = serializers.IntegerField(min_value=0)
    unacknowledged = serializers.IntegerField(min_value=0)
    capped = serializers.BooleanField(help_text="True when only the newest 100 alerts of the last 24 hours were read.")


# --- bulk jobs --------------------------------------------------------------------------------------------


class BulkJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=BulkJobKind.values)
    state = serializers.ChoiceField(choices=BulkJobState.values)
    user = serializers.CharField(source="username", help_text="Who started it.")
    filters = serializers.DictField(child=serializers.CharField(), help_text="The contact list's filters.")
    comment = serializers.CharField()
    total = serializers.IntegerField(min_value=0, help_text="Contacts the preview counted.")
    done = serializers.IntegerField(min_value=0)
    succeeded = serializers.IntegerField(min_value=0)
    skipped = serializers.IntegerField(min_value=0)
    skips = serializers.DictField(child=serializers.IntegerField(), source="summary", help_text="Skips by why.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class BulkJobPageSerializer(serializers.Serializer):
    results = BulkJobSerializer(many=True, help_text="Newest first, at most 50.")
    next = serializers.URLField(allow_null=True)


class OutcomeSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=STATES)
    reason = serializers.ChoiceField(choices=REASONS)
    n = serializers.IntegerField(min_value=1)


class JobItemSerializer(serializers.Serializer):
    public_id = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=KINDS)
    state = serializers.ChoiceField(choices=STATES)
    reason = serializers.ChoiceField(choices=REASONS)


class BulkJobDetailSerializer(BulkJobSerializer):
    outcomes = OutcomeSerializer(many=True, help_text="Where the contacts it moved are now.")
    items = JobItemSerializer(many=True, help_text="The first 200 contacts it moved.")


# --- audit ----------------------------------------------------------------------------------------------


class AuditEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField(source="created_at")
    user = serializers.CharField(source="username", help_text='"" for the system.')
    action = serializers.ChoiceField(choices=AuditAction.values)
    source = serializers.ChoiceField(choices=[("", ""), *Source.choices])
    contact = serializers.CharField(source="contact_public_id", help_text='The contact\'s public id, or "".')
    job = serializers.IntegerField(source="job_id", allow_null=True)
    comment = serializers.CharField()
    summary = serializers.SerializerMethodField()
    target = serializers.CharField(help_text='What a configuration change changed, e.g. "MRD 5001 Chat".')
    details = serializers.DictField(help_text="The entry's data as recorded (ids, codes, counts, filters).")
    changes = serializers.DictField(child=serializers.ListField(), help_text="{field: [old, new]}.")

    @extend_schema_field(serializers.CharField(help_text="The details in words, as the audit page reads them."))
    def get_summary(self, entry) -> str:
        return "; ".join(" ".join(part.text for part in phrase) for phrase in entry.parts)


class AuditPageSerializer(serializers.Serializer):
    results = AuditEntrySerializer(many=True, help_text="Newest first, at most 50.")
    next = serializers.URLField(allow_null=True)
