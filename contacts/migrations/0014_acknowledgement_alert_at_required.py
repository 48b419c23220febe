"""Every acknowledgement has its alert's time (filled by 0013)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("contacts", "0013_acknowledgement_alert_at"),
    ]

    operations = [
        migrations.AlterField(
            model_name="alertacknowledgement",
            name="alert_at",
            field=models.DateTimeField(),
        ),
    ]
