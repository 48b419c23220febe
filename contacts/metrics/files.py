"""The multi-process metrics' directory (PROMETHEUS_MULTIPROC_DIR): emptied before a host's processes start.

prometheus-client keeps one set of files per process there and never removes them; a scrape reads them all. A
host's processes must therefore start on an empty directory (the library's own rule): `make run` empties it, the
systemd units do it in a oneshot unit the others wait for (docs/operating.md). While they run, the files of exited
processes stay, so counters never go backwards when one process is replaced (contacts.metrics.instruments).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings


def clear() -> int:
    """Remove every file of the directory (nothing else): the number removed."""
    directory = Path(settings.PROMETHEUS_MULTIPROC_DIR)
    removed = 0
    for path in directory.iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        removed += 1
    return removed
