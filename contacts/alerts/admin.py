"""Django admin of queue alerts: the per-MRD thresholds (QueueAlertRule) and the alerts they raised (read-only)."""

from __future__ import annotations

from django.contrib import admin

from contacts.core.admin import ReadOnlyAdmin

from .models import QueueAlert, QueueAlertRule


@admin.register(QueueAlertRule)
class QueueAlertRuleAdmin(admin.ModelAdmin):
    list_display = ["mrd", "max_queued", "max_oldest_seconds", "enabled", "warn_queued", "warn_oldest_seconds",
                    "service_level_goal", "service_level_warn"]
    list_editable = ["max_queued", "max_oldest_seconds", "enabled"]
    fieldsets = [
        (None, {"fields": ["mrd", "enabled"]}),
        ("Alerts (and red on the dashboard)", {"fields": ["max_queued", "max_oldest_seconds"]}),
        ("Amber on the dashboard", {"fields": ["warn_queued", "warn_oldest_seconds"]}),
        ("Service level colours", {
            "fields": ["service_level_goal", "service_level_warn"],
            "description": "Against the MRD's service level threshold (seconds), set on the MRD.",
        }),
    ]
    list_filter = ["enabled"]
    list_select_related = ["mrd"]
    # The check runs every few seconds from Celery beat, so a saved threshold applies at once.


@admin.register(QueueAlert)
class QueueAlertAdmin(ReadOnlyAdmin):
    """Raised and cleared by the periodic check only; acknowledged on the dashboard."""

    list_display = ["id", "mrd_id", "metric", "value", "threshold", "raised_at", "cleared_at", "acknowledged_by"]
    list_filter = ["metric", "mrd_id", ("cleared_at", admin.EmptyFieldListFilter)]
    list_select_related = ["acknowledgement__user"]
    show_full_result_count = False

    @admin.display(description="acknowledged by")
    def acknowledged_by(self, alert: QueueAlert) -> str:
        ack = getattr(alert, "acknowledgement", None)
        return str(ack.user or "—") if ack else ""
