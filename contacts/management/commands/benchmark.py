"""Measure the dashboard's reads, the CSV export, the lifecycle and the API; print and save the figures.

Runs on a throw-away database (created like the test database, dropped at the end) and a private
Redis namespace, so it never touches real contacts or a running system's queues and dashboards.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import uuid
from pathlib import Path

import redis
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection
from django.test.utils import setup_databases, teardown_databases
from django.utils import timezone

CHILD_FLAG = "CCPDASH_BENCHMARK_CHILD"


class Command(BaseCommand):
    help = "Benchmark dashboard reads and CSV export at two sizes side by side, plus lifecycle and API rates."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--small", type=int, default=10_000, help="contacts in the small data set")
        parser.add_argument("--large", type=int, default=100_000, help="contacts in the large data set")
        parser.add_argument("--output", default=str(Path(settings.BASE_DIR) / "var" / "benchmarks"),
                            help="folder for the JSON results")

    def handle(self, *args, **options) -> None:
        if not os.environ.get(CHILD_FLAG):
            # Settings (queue names, channel prefix) are fixed at start-up, so the isolated run is a
            # fresh process with its own REDIS_PREFIX.
            prefix = f"ccpdash-bench-{uuid.uuid4().hex[:8]}"
            env = {**os.environ, CHILD_FLAG: "1", "REDIS_PREFIX": prefix}
            try:
                code = subprocess.run([sys.executable, *sys.argv], env=env).returncode
            finally:
                _forget_redis_keys(prefix)
            sys.exit(code)
        old_config = setup_databases(verbosity=0, interactive=False)
        try:
            results = self.measure(options["small"], options["large"])
        finally:
            teardown_databases(old_config, verbosity=0)
        self.report(results, Path(options["output"]))

    def measure(self, small: int, large: int) -> dict:
        from contacts.demo import benchmarks

        results: dict = {"database": connection.vendor, "sizes": [small, large], "reads": {}, "export": {}}
        by_size = {}
        for size in (small, large):
            self.stderr.write(f"filling the table to {size} contacts…")
            benchmarks.grow_to(size)
            by_size[size] = {name: benchmarks.timed(read) for name, read in benchmarks.dashboard_reads().items()}
            by_size[size]["csv export peak bytes"] = benchmarks.export_peak_bytes()
        for name, small_figure in by_size[small].items():
            large_figure = by_size[large][name]
            if isinstance(small_figure, dict):
                results["reads"][name] = {"small": small_figure, "large": large_figure,
                                          "ratio": _ratio(large_figure["ms"], small_figure["ms"])}
            else:
                results["export"] = {"small": small_figure, "large": large_figure,
                                     "ratio": _ratio(large_figure, small_figure)}
        self.stderr.write("lifecycle and API rates…")
        results["transitions per second"] = benchmarks.transitions_per_second()
        results["API creates per second"] = benchmarks.api_creates_per_second()
        return results

    def report(self, results: dict, folder: Path) -> None:
        small, large = results["sizes"]
        self.stdout.write(f"ccpdash benchmark on {results['database']} — {small:,} vs {large:,} contacts")
        self.stdout.write(f"{'read':32s} {'ms small':>9s} {'ms large':>9s} {'ratio':>6s} {'queries':>8s}")
        for name, figure in results["reads"].items():
            queries = f"{figure['small']['queries']}/{figure['large']['queries']}"
            small_ms, large_ms = figure["small"]["ms"], figure["large"]["ms"]
            self.stdout.write(f"{name:32s} {small_ms:9.2f} {large_ms:9.2f} {figure['ratio']:6.2f} {queries:>8s}")
        export = results["export"]
        self.stdout.write(
            f"CSV export peak memory: {export['small'] / 1e6:.2f} MB vs {export['large'] / 1e6:.2f} MB "
            f"(ratio {export['ratio']:.2f})"
        )
        self.stdout.write(f"lifecycle: {results['transitions per second']} committed transitions/s")
        self.stdout.write(f"API: {results['API creates per second']} XML creates/s (in process)")
        results["at"] = timezone.now().isoformat()
        results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"benchmark-{results['database']}-{timezone.now():%Y%m%dT%H%M%S}.json"
        path.write_text(json.dumps(results, indent=2))
        self.stdout.write(f"saved {path}")


def _ratio(large: float, small: float) -> float:
    return round(large / small, 2) if small else 0.0


def _forget_redis_keys(prefix: str) -> None:
    """Drop the messages the benchmark enqueued (nobody consumes its private queue)."""
    try:
        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter(match=f"*{prefix}*", count=1000):
            client.delete(key)
    except redis.RedisError:
        pass
