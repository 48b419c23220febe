"""Audit entries record configuration changes made in the Django admin (contacts.cce.config_changes).

New fields with empty defaults, so existing entries stay as they are; a partial index on (target_key,
created_at) for the contact timeline's look-up of the changes to its MRD, selector, script and the CCE
settings; the MRD foreign keys of dialed numbers and agents are named "MRD" (the audit's and the admin's label).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('contacts', '0014_acknowledgement_alert_at_required'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='auditentry',
            name='changes',
            field=models.JSONField(blank=True, default=dict, help_text='{field: [old, new]}, by verbose field name.'),
        ),
        migrations.AddField(
            model_name='auditentry',
            name='target',
            field=models.CharField(blank=True, help_text='What a configuration change changed, e.g. "MRD 5001 Chat".', max_length=200),
        ),
        migrations.AddField(
            model_name='auditentry',
            name='target_key',
            field=models.CharField(blank=True, help_text='The changed object, e.g. "mrd:5001".', max_length=64),
        ),
        migrations.AlterField(
            model_name='agent',
            name='mrd',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='agents', to='contacts.mediaroutingdomain', verbose_name='MRD'),
        ),
        migrations.AlterField(
            model_name='auditentry',
            name='action',
            field=models.CharField(choices=[('resubmit', 'resubmit'), ('cancel', 'cancel'), ('bulk_start', 'bulk job started'), ('bulk_finish', 'bulk job finished'), ('acknowledge', 'acknowledge'), ('config_changed', 'configuration changed')], max_length=20),
        ),
        migrations.AlterField(
            model_name='dialednumber',
            name='mrd',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='dialed_numbers', to='contacts.mediaroutingdomain', verbose_name='MRD'),
        ),
        migrations.AddIndex(
            model_name='auditentry',
            index=models.Index(condition=models.Q(('target_key', ''), _negated=True), fields=['target_key', 'created_at'], name='audit_target_time_idx'),
        ),
    ]
