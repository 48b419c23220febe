"""What a benchmark run was measured on: the machine and how busy it was, the servers' versions, the commit."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import django
import psutil
import psycopg
import redis
from django.conf import settings


def describe(conninfo: str, web_server: str, load_at_start: tuple[float, float, float]) -> dict:
    """What the figures were measured on: the machine (and how busy it was), the servers' versions, the commit."""
    memory = psutil.virtual_memory().total
    with psycopg.connect(conninfo) as db:
        postgres = db.execute("SHOW server_version").fetchone()[0]
    try:
        redis_version = redis.Redis.from_url(settings.REDIS_URL).info("server")["redis_version"]
    except redis.RedisError:
        redis_version = "unknown"
    return {
        # The machine may be shared: a busy one explains slow figures.
        "load average (1, 5, 15 min) at the start": ", ".join(f"{load:.2f}" for load in load_at_start),
        "load average (1, 5, 15 min) at the end": ", ".join(f"{load:.2f}" for load in os.getloadavg()),
        "cpu": _cpu_model(),
        "cores": f"{os.cpu_count()} logical, {psutil.cpu_count(logical=False)} physical",
        "memory": f"{memory / 2**30:.1f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgresql": postgres,
        "redis": redis_version,
        "web server": web_server,
        "git commit": _git_commit(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=settings.BASE_DIR, capture_output=True, text=True,
                              check=True).stdout.strip()

    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" + uncommitted changes" if dirty else "")
