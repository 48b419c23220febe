"""Django admin of notifications: channels (with "Send a test message"), rules (mute, unmute) and the delivery log."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from contacts.core.admin import ReadOnlyAdmin

from . import delivery
from .models import ChannelKind, NotificationChannel, NotificationDelivery, NotificationRule


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "target", "enabled", "last_delivery"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "url", "emails"]
    actions = ["send_test"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "enabled"]}),
        ("Where", {"fields": ["url", "emails"]}),
        ("Signature (webhooks)", {
            "fields": ["secret"],
            "description": "Every webhook request carries Ccpdash-Delivery-Id, Ccpdash-Timestamp and "
                           "Ccpdash-Signature: v1=hex(HMAC-SHA256(secret, \"{timestamp}.{body}\")). Give the "
                           "receiver this secret; change it here to rotate.",
        }),
    ]

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "url":
            kwargs["assume_scheme"] = "https"  # a URL typed without its scheme (Django 6's default)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description="URL or recipients")
    def target(self, channel: NotificationChannel) -> str:
        return channel.emails if channel.kind == ChannelKind.EMAIL else channel.url

    @admin.display(description="last delivery")
    def last_delivery(self, channel: NotificationChannel) -> str:
        last = channel.deliveries.order_by("-id").first()
        return f"{last.status} ({last.event}, {timezone.localtime(last.created_at):%Y-%m-%d %H:%M:%S})" if last else ""

    @admin.action(description="Send a test message")
    def send_test(self, request: HttpRequest, queryset: QuerySet[NotificationChannel]) -> None:
        sent = [channel for channel in queryset if delivery.send_test(channel) is not None]
        skipped = queryset.count() - len(sent)
        if sent:
            self.message_user(request, f"Test message queued for {', '.join(c.name for c in sent)}: "
                                       "see the notification deliveries for how it went.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} disabled channel(s) skipped.", messages.WARNING)


@admin.register(NotificationRule)
class NotificationRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "threshold", "enabled", "notify_resolved", "muted_until", "quiet_from",
                    "quiet_until", "channel_names"]
    list_filter = ["kind", "enabled"]
    filter_horizontal = ["channels"]
    actions = ["mute_for_an_hour", "unmute"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "threshold", "channels", "enabled", "notify_resolved"]}),
        ("Silence", {
            "fields": ["muted_until", "quiet_from", "quiet_until"],
            "description": "A muted rule, or one in its quiet hours, sends nothing; afterwards it sends one "
                           "message per subject that is still (or no longer) open.",
        }),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[NotificationRule]:
        return super().get_queryset(request).prefetch_related("channels")

    @admin.display(description="channels")
    def channel_names(self, rule: NotificationRule) -> str:
        return ", ".join(channel.name for channel in rule.channels.all())

    @admin.action(description="Mute for an hour")
    def mute_for_an_hour(self, request: HttpRequest, queryset: QuerySet[NotificationRule]) -> None:
        until = timezone.now() + timedelta(hours=1)
        count = queryset.update(muted_until=until)
        self.message_user(request, f"{count} rule(s) muted until {timezone.localtime(until):%H:%M}.")

    @admin.action(description="Unmute")
    def unmute(self, request: HttpRequest, queryset: QuerySet[NotificationRule]) -> None:
        self.message_user(request, f"{queryset.update(muted_until=None)} rule(s) unmuted.")


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(ReadOnlyAdmin):
    """The delivery log: written by the rules and the delivery task only; a failed delivery may be sent again."""

    actions = ["send_again"]

    list_display = ["created_at", "channel", "event", "subject", "status", "attempts", "response_code",
                    "short_error", "sent_at"]
    list_filter = ["status", "event", "channel"]
    list_select_related = ["channel"]
    search_fields = ["=delivery_id", "subject"]
    show_full_result_count = False
    readonly_fields = ["delivery_id", "channel", "rule", "event", "subject", "payload", "status", "attempts",
                       "response_code", "error", "created_at", "next_attempt_at", "claimed_until", "sent_at"]

    @admin.display(description="error")
    def short_error(self, row: NotificationDelivery) -> str:
        return row.error[:80]

    def has_resend_permission(self, request: HttpRequest) -> bool:
        # Whoever may configure the channels may retry what they failed to take; the log itself stays read-only.
        return request.user.has_perm("contacts.change_notificationchannel")

    @admin.action(description="Send again (failed deliveries)", permissions=["resend"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[NotificationDelivery]) -> None:
        moved = delivery.send_again(queryset)
        skipped = queryset.count() - moved
        note = f"; {skipped} not failed, left alone" if skipped else ""
        self.message_user(request, f"{moved} deliver{'y' if moved == 1 else 'ies'} sent again{note}.")
