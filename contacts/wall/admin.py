"""Wall board links in the Django admin: create one (its key is shown once), see when each was last used, revoke."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from .models import WallBoardLink


@admin.register(WallBoardLink)
class WallBoardLinkAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at", "created_by", "last_used_at", "state"]
    readonly_fields = ["created_at", "created_by", "last_used_at", "revoked_at"]
    fields = ["name", *readonly_fields]
    actions = ["revoke"]

    @admin.display(description="state")
    def state(self, link: WallBoardLink) -> str:
        return f"revoked {timezone.localtime(link.revoked_at):%Y-%m-%d %H:%M}" if link.revoked else "live"

    def save_model(self, request, obj: WallBoardLink, form, change: bool) -> None:
        key = None
        if not change:
            obj.created_by = request.user
            key = obj.new_key()
        super().save_model(request, obj, form, change)
        if key:
            url = request.build_absolute_uri(f"{reverse('wall-board')}?key={key}")
            # Shown once: only the key's hash is stored, so it cannot be shown again.
            self.message_user(request, format_html(
                "Open this link on the wall screen; it is shown only now, copy it: <code>{}</code>", url),
                messages.WARNING)

    @admin.action(description="Revoke the selected links (their screens close within 30 s)")
    def revoke(self, request, queryset) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{count} link{'s' if count != 1 else ''} revoked.")
