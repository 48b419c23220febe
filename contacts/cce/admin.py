"""Django admin of the mock Unified CCE: MRDs, script selectors, scripts, agents, their slots, CCE settings.

Saving a ready agent, or an MRD with routing enabled, runs routing for that MRD after commit, so
contacts waiting there are picked up at once (spec §5: "an agent becomes ready or routing is re-enabled").
Every add, change and delete a person makes here, and each object a bulk action changes, is recorded
old → new in the audit log (contacts.cce.config_changes.AuditedAdmin).
The CCE settings carry the admin's what-ifs: MR PG connection down / up and "Simulate CCP restart"
(contacts.cce.recovery), and the throttle with its current window and backlog.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse

from contacts.core.admin import ReadOnlyAdmin

from . import queues, recovery, routing, tasks, throttle
from .config_changes import AuditedAdmin, raw_values
from .models import Agent, AgentAssignment, CceSettings, DialedNumber, MediaRoutingDomain, RoutingScript


@admin.register(MediaRoutingDomain)
class MediaRoutingDomainAdmin(AuditedAdmin):
    list_display = [
        "id", "name", "routing_enabled", "max_tasks_in_queue", "task_life_seconds", "service_level_seconds", "queued",
        "agents",
    ]
    list_filter = ["routing_enabled"]
    search_fields = ["id", "name"]
    actions = ["enable_routing", "disable_routing"]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        # Editing a primary key in the admin would copy the MRD, not renumber it.
        return ["id"] if obj else []

    @admin.display(description="in queue")
    def queued(self, mrd: MediaRoutingDomain) -> int:
        return queues.in_queue(mrd.pk).count()

    @admin.display(description="ready agents / slots free")
    def agents(self, mrd: MediaRoutingDomain) -> str:
        capacity = queues.capacity(mrd.pk)
        return f"{capacity.ready_agents} / {capacity.free} of {capacity.slots}"

    def save_model(self, request: HttpRequest, obj: MediaRoutingDomain, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if obj.routing_enabled:
            routing.route_after_commit(obj.pk)

    @admin.action(description="Enable routing", permissions=["change"])
    def enable_routing(self, request: HttpRequest, queryset: QuerySet) -> None:
        mrd_ids = list(queryset.values_list("pk", flat=True))
        self.audited_update(request, queryset, routing_enabled=True)
        for mrd_id in mrd_ids:
            routing.route_after_commit(mrd_id)
        self.message_user(request, f"Routing enabled on {len(mrd_ids)} MRD(s).", messages.SUCCESS)

    @admin.action(description="Disable routing", permissions=["change"])
    def disable_routing(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = self.audited_update(request, queryset, routing_enabled=False)
        self.message_user(request, f"Routing disabled on {count} MRD(s).", messages.SUCCESS)


@admin.register(RoutingScript)
class RoutingScriptAdmin(AuditedAdmin):
    list_display = ["name", "action", "delay_seconds", "selectors"]
    list_filter = ["action"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(selector_count=Count("dialed_numbers"))

    @admin.display(description="script selectors bound", ordering="selector_count")
    def selectors(self, script: RoutingScript) -> int:
        return script.selector_count


@admin.register(DialedNumber)
class DialedNumberAdmin(AuditedAdmin):
    list_display = ["string", "mrd", "script", "script_action"]
    list_filter = ["mrd", "script"]
    search_fields = ["string"]
    list_select_related = ["mrd", "script"]

    @admin.display(description="script action")
    def script_action(self, dialed: DialedNumber) -> str:
        return dialed.script.get_action_display() if dialed.script else "— (NOTIFICATION_NO_SCRIPT)"


@admin.register(Agent)
class AgentAdmin(AuditedAdmin):
    list_display = ["agent_id", "name", "mrd", "ready", "max_concurrent", "slots_in_use", "handle_time"]
    list_editable = ["ready"]
    list_filter = ["mrd", "ready"]
    search_fields = ["agent_id", "name"]
    list_select_related = ["mrd"]
    actions = ["make_ready", "make_not_ready"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        open_slots = Q(assignments__released_at__isnull=True)
        return super().get_queryset(request).annotate(used=Count("assignments", filter=open_slots))

    @admin.display(description="slots in use", ordering="used")
    def slots_in_use(self, agent: Agent) -> int:
        return agent.used

    @admin.display(description="handle time (s)")
    def handle_time(self, agent: Agent) -> str:
        return f"{agent.handle_time_min}–{agent.handle_time_max}"

    def save_model(self, request: HttpRequest, obj: Agent, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if obj.ready:
            routing.route_after_commit(obj.mrd_id)

    @admin.action(description="Make ready", permissions=["change"])
    def make_ready(self, request: HttpRequest, queryset: QuerySet) -> None:
        mrd_ids = set(queryset.values_list("mrd_id", flat=True))
        count = self.audited_update(request, queryset, ready=True)
        for mrd_id in mrd_ids:
            routing.route_after_commit(mrd_id)
        self.message_user(request, f"{count} agent(s) made ready.", messages.SUCCESS)

    @admin.action(description="Make not ready", permissions=["change"])
    def make_not_ready(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = self.audited_update(request, queryset, ready=False)
        self.message_user(request, f"{count} agent(s) made not ready; contacts they hold stay with them.")


@admin.register(AgentAssignment)
class AgentAssignmentAdmin(ReadOnlyAdmin):
    """Slot history, written by routing only."""

    list_display = ["id", "agent", "contact", "mrd_id", "started_at", "ends_at", "released_at", "open"]
    list_filter = [("released_at", admin.EmptyFieldListFilter), "mrd_id", "agent"]
    list_select_related = ["agent", "contact"]
    raw_id_fields = ["agent", "contact"]
    show_full_result_count = False

    @admin.display(boolean=True, description="open")
    def open(self, assignment: AgentAssignment) -> bool:
        return assignment.is_open


@admin.register(CceSettings)
class CceSettingsAdmin(AuditedAdmin):
    """The one settings row. Its actions act on the CCE as a whole, whichever row is ticked."""

    list_display = ["__str__", "connection_up", "throttle_per_minute", "backlog_size", "window_usage", "backlog"]
    actions = ["set_connection_down", "set_connection_up", "simulate_ccp_restart"]

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        # The actions need a row to tick: the singleton always exists once someone looks.
        CceSettings.objects.get_or_create(pk=CceSettings.SINGLETON_ID)
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not CceSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="admitted in the current window")
    def window_usage(self, cce: CceSettings) -> str:
        usage = throttle.usage()
        limit = usage.limit or "unlimited"
        return f"{usage.used} of {limit} in {usage.window_seconds:g} s"

    @admin.display(description="backlog (unread)")
    def backlog(self, cce: CceSettings) -> str:
        return f"{throttle.backlog_length()} of {cce.backlog_size}"

    def save_model(self, request: HttpRequest, obj: CceSettings, form, change: bool) -> None:
        # The connection flag changes only through recovery.set_connection, which applies its outcomes.
        wanted = obj.connection_up
        obj.connection_up = CceSettings.load().connection_up
        super().save_model(request, obj, form, change)
        if wanted != obj.connection_up:
            self._set_connection(request, wanted)
            obj.connection_up = wanted
        # A raised limit or a larger backlog takes effect at once, not at the next reconcile.
        transaction.on_commit(lambda: tasks.reconcile.delay(), robust=True)

    def _set_connection(self, request: HttpRequest, up: bool) -> None:
        discarded = recovery.set_connection(up, user=request.user)
        if up:
            self.message_user(request, "MR PG connection up: routing runs again.", messages.SUCCESS)
        else:
            self.message_user(
                request,
                f"MR PG connection down: {discarded} queued contact(s) discarded with "
                "NOTIFICATION_CCE_CONNECTION_FAILURE; new submissions are discarded too.",
                messages.WARNING,
            )

    def _switch_connection(self, request: HttpRequest, up: bool) -> None:
        """The actions' way to the connection, recorded here (the form's is recorded by log_change)."""
        before = raw_values(CceSettings.load())
        self._set_connection(request, up)
        # After the switch, not around it: the drop discards queued contacts in short transactions of its
        # own, which one enclosing transaction would turn into a long hold of the settings row.
        self.record_change(request, CceSettings.load(), before)

    @admin.action(description="Set the MR PG connection down", permissions=["change"])
    def set_connection_down(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._switch_connection(request, False)

    @admin.action(description="Set the MR PG connection up", permissions=["change"])
    def set_connection_up(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._switch_connection(request, True)

    @admin.action(description="Simulate CCP restart", permissions=["change"])
    def simulate_ccp_restart(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = recovery.simulate_ccp_restart(user=request.user)
        summary = ", ".join(f"{count} {label}" for label, count in done.items())
        self.message_user(request, f"CCP restarted: {summary}; unread contacts are submitted now.", messages.SUCCESS)
