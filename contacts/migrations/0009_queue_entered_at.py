"""Contact.queue_entered_at, the queues' FIFO key, with its partial index; filled in for contacts already queued."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery

# The positions as this migration knows them (contacts.core.positions may change; history does not).
WAITING_REASONS = ["EXTERNALLY_ROUTED", "EXTERNALLY_HANDLED"]
IN_QUEUE_REASONS = [*WAITING_REASONS, "NOTIFICATION_CCE_CALLBACK_CANCEL_REQUESTED", "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED"]


def fill_queue_entries(apps, schema_editor):
    """Each contact in a queue entered it at its latest move into a waiting position (its creation if none)."""
    Contact = apps.get_model("contacts", "Contact")
    Transition = apps.get_model("contacts", "Transition")
    entries = Transition.objects.filter(contact=OuterRef("pk"), to_state="queued", to_reason__in=WAITING_REASONS)
    in_queue = Contact.objects.filter(state="queued", reason__in=IN_QUEUE_REASONS)
    in_queue.update(queue_entered_at=Subquery(entries.order_by("-id").values("created_at")[:1]))
    in_queue.filter(queue_entered_at__isnull=True).update(queue_entered_at=models.F("created_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('contacts', '0008_routing_due'),
    ]

    operations = [
        migrations.AddField(
            model_name='contact',
            name='queue_entered_at',
            field=models.DateTimeField(blank=True, editable=False, help_text="When it last entered its MRD's queue.", null=True, verbose_name='entered the queue'),
        ),
        migrations.AddIndex(
            model_name='contact',
            index=models.Index(condition=models.Q(('state', 'queued')), fields=['cce_mrd_id', 'queue_entered_at', 'id'], name='contact_queue_fifo_idx'),
        ),
        migrations.RunPython(fill_queue_entries, migrations.RunPython.noop, elidable=True),
    ]
