"""Django admin for feeds and (read-only) contacts with their transition history."""

from __future__ import annotations

from django.contrib import admin

from . import alerts_admin  # noqa: F401 - registers the queue alert rules and alerts
from .admin_base import ReadOnlyAdmin
from .cce import admin as cce_admin  # noqa: F401 - registers the mock CCE's models
from .models import Contact, Feed, FeedNotification, Transition
from .workflow_admin import MANAGE_PERMISSION, cancel_selected, resubmit_selected


class FeedNotificationInline(admin.StackedInline):
    model = FeedNotification
    extra = 0
    max_num = 1


@admin.register(Feed)
class FeedAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "type", "enabled", "token_required", "notification"]
    list_filter = ["type", "enabled"]
    search_fields = ["id", "name"]
    inlines = [FeedNotificationInline]

    @admin.display(boolean=True, description="token")
    def token_required(self, feed: Feed) -> bool:
        return bool(feed.api_token)


@admin.register(FeedNotification)
class FeedNotificationAdmin(admin.ModelAdmin):
    list_display = ["feed", "mrd_id", "script_selector", "enabled"]
    list_filter = ["enabled"]


class TransitionInline(admin.TabularInline):
    model = Transition
    fields = ["created_at", "rule", "from_state", "from_reason", "to_state", "to_reason", "source", "user", "comment"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdmin):
    list_display = [
        "public_id", "kind", "feed", "state", "reason", "name", "cce_mrd_id", "cce_script_selector", "created_at"
    ]
    list_filter = ["kind", "state", "reason", "feed", "cce_mrd_id"]
    search_fields = ["public_id", "name", "title"]
    list_select_related = ["feed"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [TransitionInline]
    # Through contacts.actions, as the dashboard's buttons; each asks for confirmation first.
    actions = [resubmit_selected, cancel_selected]

    def has_manage_permission(self, request) -> bool:
        return request.user.has_perm(MANAGE_PERMISSION)


@admin.register(Transition)
class TransitionAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "contact", "rule", "from_state", "from_reason", "to_state", "to_reason", "source", "user", "created_at"
    ]
    list_filter = ["rule", "source", "to_state"]
    list_select_related = ["contact", "user"]
    raw_id_fields = ["contact"]
    show_full_result_count = False
