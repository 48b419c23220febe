"""Django admin of the core: feeds, and (read-only) contacts with their transition history.

`ContactAdmin` is registered by `contacts.workflows.admin`, which adds the cancel and resubmit actions;
`ReadOnlyAdmin` is the base of every admin that only shows history written by the code.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme

from .models import Feed, FeedNotification, Transition


class ReturnsToNext(admin.ModelAdmin):
    """After a save, back to `?next=` (this site's URL only) instead of the change list.

    An alert's fix link sends the admin here with `next` set to that alert's resubmit offer
    (`contacts.alerts.discards.FixLink.back`), so fixing the cause and resubmitting what it discarded is
    one path. "Save and continue editing" and "Save and add another" keep their usual meaning. The admin's
    form posts to its own URL, query string included, so `next` reaches the save.
    """

    def _next(self, request: HttpRequest) -> str | None:
        target = request.GET.get("next", "")
        if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
            return target
        return None

    def _back(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        target = self._next(request)
        if target and isinstance(response, HttpResponseRedirect) and not (
            {"_continue", "_addanother", "_saveasnew", "_popup"} & set(request.POST)
        ):
            return HttpResponseRedirect(target)
        return response

    def response_add(self, request: HttpRequest, obj, post_url_continue=None) -> HttpResponse:
        return self._back(request, super().response_add(request, obj, post_url_continue))

    def response_change(self, request: HttpRequest, obj) -> HttpResponse:
        return self._back(request, super().response_change(request, obj))


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
class FeedAdmin(ReturnsToNext):
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
