"""Empty PROMETHEUS_MULTIPROC_DIR before a host's processes start (contacts.metrics.files)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from contacts.metrics import files


class Command(BaseCommand):
    help = ("Empty PROMETHEUS_MULTIPROC_DIR, the per-process metrics' files. Run it before this host's web processes "
            "and workers start, never while they run: their counters would start again from zero.")

    def handle(self, *args, **options) -> None:
        removed = files.clear()
        if options["verbosity"]:
            self.stdout.write(f"Metrics directory {settings.PROMETHEUS_MULTIPROC_DIR} emptied ({removed} entries).")
