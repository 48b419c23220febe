"""Were the periodic tasks on time? Read from the worker's log: when each of beat's tasks last finished.

The worker runs with `-l info` (as `make run` starts it), which logs every task that succeeds with
its time. For each task of CELERY_BEAT_SCHEDULE with a period shorter than the window, the longest
gap between two of its runs (the window's end counting as a run that has not happened yet, the last
run before the window as the first) over its period says how late it got: 1 is punctual, 2 means one
run was missed or came a whole period late.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from django.conf import settings

LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): \w+/[^\]]+\] Task ([\w.]+)\[[^\]]+\] succeeded in")


def finished_runs(logs: list[Path]) -> dict[str, list[float]]:
    """Task name → POSIX times its runs succeeded, from the worker logs (local time, as Celery writes it)."""
    runs: dict[str, list[float]] = {}
    for log in logs:
        try:
            text = log.read_text(errors="replace")
        except FileNotFoundError:
            continue
        for line in text.splitlines():
            found = LINE.match(line)
            if found:
                at = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                runs.setdefault(found.group(2), []).append(at)
    return {name: sorted(times) for name, times in runs.items()}


def punctuality(logs: list[Path], start: float, end: float) -> dict:
    """Per periodic task: runs in [start, end], the longest gap, the gap over the period; and the worst ratio."""
    runs = finished_runs(logs)
    tasks = {}
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        period = float(entry["schedule"])
        if period * 2 > end - start:
            continue  # too rare to judge in this window (the hourly purge)
        times = runs.get(entry["task"], [])
        before = [t for t in times if t < start][-1:]
        inside = [t for t in times if start <= t <= end]
        points = [*(before or [start]), *inside, end]
        gap = max(b - a for a, b in zip(points, points[1:], strict=False))
        tasks[entry["task"]] = {"period_s": period, "runs": len(inside), "max_gap_s": round(gap, 2),
                                "gap_over_period": round(gap / period, 2)}
    worst = max(tasks.values(), key=lambda t: t["gap_over_period"], default=None)
    return {"tasks": tasks, "worst_gap_over_period": worst["gap_over_period"] if worst else None}
