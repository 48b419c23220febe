"""Django admin of the core: feeds, and (read-only) contacts with their transition history.

`ContactAdmin` is registered by `contacts.workflows.admin`, which adds the cancel and resubmit actions;
`ReadOnlyAdmin` is the base of every admin that only shows history written by the code.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import Feed, FeedNotification, Transition


class ReadOnlyAdmin(admin.ModelAdmin):
    """History written by the code (transitions, agent slots, alerts, jobs, audit): the admin only shows it."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


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


class ContactAdmin(ReadOnlyAdmin):
    """The contact list and its timeline; registered with its actions by contacts.workflows.admin."""

    list_display = [
        "public_id", "kind", "feed", "state", "reason", "name", "cce_mrd_id", "cce_script_selector", "created_at"
    ]
    list_filter = ["kind", "state", "reason", "feed", "cce_mrd_id"]
    search_fields = ["public_id", "name", "title"]
    list_select_related = ["feed"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [TransitionInline]


@admin.register(Transition)
class TransitionAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "contact", "rule", "from_state", "from_reason", "to_state", "to_reason", "source", "user", "created_at"
    ]
    list_filter = ["rule", "source", "to_state"]
    list_select_related = ["contact", "user"]
    raw_id_fields = ["contact"]
    show_full_result_count = False
