"""Where `make run`'s processes' output goes: each line to the process's log file, warnings and errors to the console.

Celery beat and the workers log several routine lines a second (a task sent, received, succeeded); on the
console they scrolled the URL and the demo logins away within seconds. `OutputRouter` reads each line a
process writes and tells its level from the head of the log record it starts, in the formats our
processes write:

    Django (settings.LOGGING)   2026-01-02 03:04:05,678 WARNING django.request: GET /audit/ 403 user 3: ...
    Celery (worker, beat)       [2026-01-02 03:04:05,678: WARNING/MainProcess] ...
    Granian (the web server)    [WARNING] ...
    Python's warnings module    /path/to/module.py:893: SecurityWarning: ...

A line that starts no record continues the one before it on the same stream (a traceback goes with its
error) and shares its fate. Before any record, what a process writes to stdout (Celery's banner, the
traffic simulator's progress) stays in the file, and what it writes to stderr is shown: nothing formatted
it, so it is most likely a crash before logging was set up, or a Python warning.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from typing import IO

RECORD_HEAD = re.compile(
    r"^(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<django>[A-Z]+) \S+: "
    r"|\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}: (?P<celery>[A-Z]+)/"
    r"|\[(?P<granian>[A-Z]+)\] "
    r"|.+?:\d+: (?P<python>\w*Warning): )"
)
SHOWN = logging.WARNING
TAIL_LINES = 20


def record_level(line: str) -> int | None:
    """The level of the log record `line` starts, or None when it starts none."""
    head = RECORD_HEAD.match(line)
    if head is None:
        return None
    if head["python"]:
        return logging.WARNING
    level = logging.getLevelName(head["django"] or head["celery"] or head["granian"])
    return level if isinstance(level, int) else None  # getLevelName answers "Level X" for a word it does not know


class OutputRouter:
    """One process's output: each line to `log`, and with the process's name to `console` from WARNING up."""

    def __init__(self, name: str, log: IO[str], console: IO[str], lock: threading.Lock) -> None:
        self.name, self.log, self.console, self.lock = name, log, console, lock
        self.levels: dict[bool, int] = {}  # stderr? -> level of the last record begun on that stream
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)  # shown when the process exits

    def route(self, line: str, *, stderr: bool) -> bool:
        """Write `line` (with its newline) where it belongs; True when it went to the console too."""
        level = record_level(line)
        if level is not None:
            self.levels[stderr] = level
        else:
            level = self.levels.get(stderr, SHOWN if stderr else logging.INFO)
        shown = level >= SHOWN
        with self.lock:  # two streams per process, five processes, one console
            self.log.write(line)
            self.tail.append(line)
            if shown:
                self.console.write(f"{self.name:<8} | {line}")
                self.console.flush()
        return shown

    def pump(self, stream: IO[str], *, stderr: bool) -> threading.Thread:
        """Route every line of `stream` from a thread of its own, until the process closes it."""

        def read() -> None:
            for line in iter(stream.readline, ""):
                self.route(line if line.endswith("\n") else line + "\n", stderr=stderr)

        thread = threading.Thread(target=read, name=f"{self.name}-{'stderr' if stderr else 'stdout'}", daemon=True)
        thread.start()
        return thread
