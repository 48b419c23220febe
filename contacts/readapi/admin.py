"""Personal API tokens in the Django admin: whose, when last used; an admin revokes any (users make their own)."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from .models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "shown_prefix", "created_at", "last_used_at", "state"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = ["user", "name", "shown_prefix", "created_at", "last_used_at", "revoked_at"]
    fields = readonly_fields
    actions = ["revoke"]

    @admin.display(description="starts with")
    def shown_prefix(self, token: ApiToken) -> str:
        return token.shown_prefix

    @admin.display(description="state")
    def state(self, token: ApiToken) -> str:
        return f"revoked {timezone.localtime(token.revoked_at):%Y-%m-%d %H:%M}" if token.revoked else "live"

    def has_add_permission(self, request) -> bool:
        # A token is made by its user on /account/tokens, who alone sees it once.
        return False

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request, queryset) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{count} token{'s' if count != 1 else ''} revoked.")
