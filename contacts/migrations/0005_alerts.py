# Alerts: queue-alert rules per MRD, queue alerts, acknowledgements (a discard alert is its Transition).

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("contacts", "0004_throttle_admission_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="QueueAlert",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("mrd_id", models.PositiveIntegerField(help_text="Kept as a number: history outlives the MRD.", verbose_name="MRD ID")),
                ("metric", models.CharField(choices=[("oldest", "oldest waiting"), ("queued", "queued contacts")], max_length=8)),
                ("threshold", models.PositiveIntegerField()),
                ("value", models.PositiveIntegerField(help_text="Seconds or contacts when it was raised.")),
                ("raised_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("cleared_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "ordering": ["-id"],
                "indexes": [models.Index(fields=["raised_at"], name="queue_alert_raised_idx")],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("cleared_at__isnull", True)), fields=("mrd_id", "metric"), name="queue_alert_one_open"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="AlertAcknowledgement",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("at", models.DateTimeField(default=django.utils.timezone.now)),
                ("transition", models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="acknowledgement", to="contacts.transition")),
                ("user", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                ("queue_alert", models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="acknowledgement", to="contacts.queuealert")),
            ],
            options={
                "ordering": ["id"],
                "permissions": [("acknowledge_alert", "Can acknowledge alerts")],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("queue_alert__isnull", True), ("transition__isnull", False)),
                            models.Q(("queue_alert__isnull", False), ("transition__isnull", True)),
                            _connector="OR",
                        ),
                        name="acknowledgement_of_one_alert",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="QueueAlertRule",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("max_oldest_seconds", models.PositiveIntegerField(default=0, help_text="Alert when the oldest queued contact waits longer. 0 = off.", verbose_name="max oldest waiting (s)")),
                ("max_queued", models.PositiveIntegerField(default=0, help_text="Alert when more contacts than this are queued. 0 = off.", verbose_name="max queued contacts")),
                ("enabled", models.BooleanField(default=True)),
                ("mrd", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="queue_alert_rule", to="contacts.mediaroutingdomain", verbose_name="MRD")),
            ],
            options={"verbose_name": "queue alert rule", "ordering": ["mrd_id"]},
        ),
    ]
