"""Index the throttle's admission count: moves out of (unread, —) in the last window (contacts.cce.throttle)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("contacts", "0003_mock_cce"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="transition",
            index=models.Index(fields=["from_state", "created_at"], name="transition_from_time_idx"),
        ),
    ]
