"""`manage.py clear_metrics`: a host's processes start on an empty metrics directory, which stays in place."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO

from django.core.management import call_command
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.parser import text_string_to_metric_families


def counted(directory) -> dict[str, float]:
    """What a scrape of the directory's files sums, by sample name."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    return {sample.name: sample.value for family in text_string_to_metric_families(generate_latest(registry).decode())
            for sample in family.samples}


class ClearMetricsTests:
    def test_it_empties_the_directory_a_previous_run_left_and_keeps_the_directory(self, settings, tmp_path):
        directory = tmp_path / "prometheus"
        directory.mkdir()
        # A process of the last run counted something into its own file, as prometheus-client writes it.
        count_once = "from prometheus_client import Counter; Counter('ccpdash_earlier', 'x').inc(3)"
        subprocess.run([sys.executable, "-c", count_once], check=True,
                       env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)})
        (directory / "leftover").mkdir()
        assert counted(directory)["ccpdash_earlier_total"] == 3
        settings.PROMETHEUS_MULTIPROC_DIR = directory
        output = StringIO()
        call_command("clear_metrics", stdout=output)
        assert directory.is_dir() and list(directory.iterdir()) == []
        assert counted(directory) == {}
        assert "(2 entries)" in output.getvalue()
