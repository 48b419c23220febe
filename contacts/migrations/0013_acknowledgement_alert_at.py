"""Acknowledgements carry the time of the alert they acknowledge, for the top bar's count (feed.unacknowledged).

Added nullable and filled from the transitions and queue alerts; 0014 then makes it required. Two
migrations, because PostgreSQL refuses to alter a table that has pending trigger events from an
update in the same transaction.
"""

from django.db import migrations, models
from django.db.models import OuterRef, Q, Subquery


def copy_alert_times(apps, schema_editor):
    Acknowledgement = apps.get_model("contacts", "AlertAcknowledgement")
    Transition = apps.get_model("contacts", "Transition")
    QueueAlert = apps.get_model("contacts", "QueueAlert")
    Acknowledgement.objects.filter(transition__isnull=False).update(
        alert_at=Subquery(Transition.objects.filter(id=OuterRef("transition_id")).values("created_at")[:1])
    )
    Acknowledgement.objects.filter(queue_alert__isnull=False).update(
        alert_at=Subquery(QueueAlert.objects.filter(id=OuterRef("queue_alert_id")).values("raised_at")[:1])
    )


class Migration(migrations.Migration):

    dependencies = [
        ("contacts", "0012_move_tallies"),
    ]

    operations = [
        migrations.AddField(
            model_name="alertacknowledgement",
            name="alert_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(copy_alert_times, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="alertacknowledgement",
            index=models.Index(
                condition=Q(transition__isnull=False), fields=["alert_at"], name="ack_discard_alert_at_idx"
            ),
        ),
    ]
