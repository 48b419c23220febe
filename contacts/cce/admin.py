"""Django admin of the mock Unified CCE: MRDs, script selectors, scripts, agents, their slots, CCE settings.

Saving a ready agent, or an MRD with routing enabled, runs routing for that MRD after commit, so
contacts waiting there are picked up at once (spec §5: "an agent becomes ready or routing is re-enabled").
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from . import queues, routing
from .models import Agent, AgentAssignment, CceSettings, DialedNumber, MediaRoutingDomain, RoutingScript


@admin.register(MediaRoutingDomain)
class MediaRoutingDomainAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "routing_enabled", "max_tasks_in_queue", "task_life_seconds", "queued", "agents"]
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
        queryset.update(routing_enabled=True)
        for mrd_id in mrd_ids:
            routing.route_after_commit(mrd_id)
        self.message_user(request, f"Routing enabled on {len(mrd_ids)} MRD(s).", messages.SUCCESS)

    @admin.action(description="Disable routing", permissions=["change"])
    def disable_routing(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.update(routing_enabled=False)
        self.message_user(request, f"Routing disabled on {count} MRD(s).", messages.SUCCESS)


@admin.register(RoutingScript)
class RoutingScriptAdmin(admin.ModelAdmin):
    list_display = ["name", "action", "delay_seconds", "selectors"]
    list_filter = ["action"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(selector_count=Count("dialed_numbers"))

    @admin.display(description="script selectors bound", ordering="selector_count")
    def selectors(self, script: RoutingScript) -> int:
        return script.selector_count


@admin.register(DialedNumber)
class DialedNumberAdmin(admin.ModelAdmin):
    list_display = ["string", "mrd", "script", "script_action"]
    list_filter = ["mrd", "script"]
    search_fields = ["string"]
    list_select_related = ["mrd", "script"]

    @admin.display(description="script action")
    def script_action(self, dialed: DialedNumber) -> str:
        return dialed.script.get_action_display() if dialed.script else "— (NOTIFICATION_NO_SCRIPT)"


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
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
        count = queryset.update(ready=True)
        for mrd_id in mrd_ids:
            routing.route_after_commit(mrd_id)
        self.message_user(request, f"{count} agent(s) made ready.", messages.SUCCESS)

    @admin.action(description="Make not ready", permissions=["change"])
    def make_not_ready(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.update(ready=False)
        self.message_user(request, f"{count} agent(s) made not ready; contacts they hold stay with them.")


@admin.register(AgentAssignment)
class AgentAssignmentAdmin(admin.ModelAdmin):
    """Slot history, written by routing only."""

    list_display = ["id", "agent", "contact", "mrd_id", "started_at", "ends_at", "released_at", "open"]
    list_filter = [("released_at", admin.EmptyFieldListFilter), "mrd_id", "agent"]
    list_select_related = ["agent", "contact"]
    raw_id_fields = ["agent", "contact"]
    show_full_result_count = False

    @admin.display(boolean=True, description="open")
    def open(self, assignment: AgentAssignment) -> bool:
        return assignment.is_open

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(CceSettings)
class CceSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "connection_up", "throttle_per_minute", "backlog_size"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not CceSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
