"""Benchmark ccpdash end to end: its own web, worker and beat under load, every figure beside its baseline.

    manage.py benchmark            the full run (15–40 minutes on two cores)
    manage.py benchmark --quick    small sizes for CI: under two minutes, fails if any figure is missing
    manage.py benchmark --only steady[,bursts,backlog,reads]
                                   a partial run: the baselines and the scenarios named (while working
                                   on one part); its files are named "partial", never taken for a full run

Needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL). The command creates throw-away databases on
the configured server (`ccpdash_bench_<hex>`, migrated and configured once, copied fresh for each
end-to-end scenario, and `…_reads` for the reads at growing sizes) and a private REDIS_PREFIX, runs
the measurements in a child process that has them in its settings (queue names and the channel
layer's prefix are fixed at start-up), then drops the databases and the prefix's keys whatever
happened, also on Ctrl-C or SIGTERM. Progress goes to stderr, the table to stdout, JSON and Markdown
to `--output` (benchmarks/results/ by default).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from contacts.demo.bench import databases, reads, report, scenarios, setup
from contacts.demo.bench import machine as machines
from contacts.demo.bench.system import database_url

CHILD_FLAG = "CCPDASH_BENCHMARK_CHILD"
ADMIN_DATABASE = "CCPDASH_BENCHMARK_ADMIN_DATABASE"
STOP_TIMEOUT = 120
READS_DATABASE = "CCPDASH_BENCHMARK_READS_DATABASE"
# The CSV export is timed up to this size: streamed under tracemalloc, a million rows take minutes,
# and its peak memory is flat from 10k to 100k already (README "Benchmarks").
EXPORT_UP_TO = 100_000


class Command(BaseCommand):
    help = "Benchmark ccpdash end to end (web, worker, beat, dashboards, reads) beside same-run baselines."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--quick", action="store_true",
                            help="small sizes (CI): checks that every figure is produced")
        parser.add_argument("--only", default="",
                            help=f"comma-separated scenarios to run (of {', '.join(scenarios.PARTS)}); "
                                 "the baselines always run")
        parser.add_argument("--output", default=str(Path(settings.BASE_DIR) / "benchmarks" / "results"),
                            help="folder for the JSON and Markdown results")

    def handle(self, *args, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                "manage.py benchmark needs PostgreSQL: it runs web, worker and beat processes under concurrent "
                "load, which SQLite cannot carry. Set DATABASE_URL=postgres://user@host:5432/db (CI does)."
            )
        only = {part.strip() for part in options["only"].split(",") if part.strip()}
        unknown = only - set(scenarios.PARTS)
        if unknown:
            raise CommandError(f"--only takes {', '.join(scenarios.PARTS)}; not {', '.join(sorted(unknown))}")
        if os.environ.get(CHILD_FLAG):
            self.measure(quick=options["quick"], output=Path(options["output"]), only=only)
            return
        token = uuid.uuid4().hex[:8]
        name = f"ccpdash_bench_{token}"
        names = [name, f"{name}_reads"]
        prefix = f"ccpdash-bench-{token}"
        with connection.cursor() as cursor:
            for database in names:
                cursor.execute(f'CREATE DATABASE "{database}"')
        env = {**os.environ, CHILD_FLAG: "1", "DATABASE_URL": database_url(name), READS_DATABASE: names[1],
               ADMIN_DATABASE: connection.settings_dict["NAME"], "REDIS_PREFIX": prefix,
               "DJANGO_SETTINGS_MODULE": "ccpdash.settings"}
        command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "benchmark", "--output",
                   options["output"], *(["--quick"] if options["quick"] else []),
                   *(["--only", options["only"]] if options["only"] else [])]
        previous = signal.signal(signal.SIGTERM, _interrupt)
        child = subprocess.Popen(command, env=env, cwd=settings.BASE_DIR)
        try:
            code = child.wait()
        except KeyboardInterrupt:
            # Let the child stop the processes it started before its databases go.
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                child.kill()
            raise CommandError("interrupted; the benchmark's databases and Redis keys are removed") from None
        finally:
            signal.signal(signal.SIGTERM, previous)
            with connection.cursor() as cursor:
                # The scenarios' copies too, should the child have left one behind.
                cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{name}%"])
                for (database,) in cursor.fetchall():
                    cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            databases.forget_redis_keys(prefix)
        if code:
            raise CommandError(f"the benchmark failed (exit code {code})", returncode=code)

    def measure(self, *, quick: bool, output: Path, only: set[str]) -> None:
        # A SIGTERM (a CI timeout, the parent stopping) unwinds like Ctrl-C: the processes are stopped.
        signal.signal(signal.SIGTERM, _interrupt)
        started, load_at_start = time.monotonic(), os.getloadavg()

        def progress(message: str) -> None:
            self.stderr.write(f"[{time.monotonic() - started:6.1f} s] {message}")
            self.stderr.flush()

        sizes = scenarios.QUICK if quick else scenarios.FULL
        template = connection.settings_dict["NAME"]
        kind = f"{'quick' if quick else 'full'} run" + (f" of {', '.join(sorted(only))}" if only else "")
        progress(f"{kind}: migrating and configuring {template}")
        call_command("migrate", verbosity=0, interactive=False)
        configuration = setup.configure()
        copies = databases.Databases(template, admin=os.environ[ADMIN_DATABASE])
        parts = only or set(scenarios.PARTS)
        results = scenarios.run_all(copies, Path(settings.BASE_DIR) / "var" / "benchmark" / template, sizes, progress,
                                    parts=parts)
        machine = machines.describe(scenarios.conninfo(), results["web_server"], load_at_start)
        results["reads"] = self.reads(list(sizes.reads), progress) if "reads" in parts else None
        items = report.figures(results)
        result = {
            "kind": "partial" if only else "quick" if quick else "full",
            "at": timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "seconds": round(time.monotonic() - started, 1),
            "machine": machine,
            "configuration": {**configuration, **results["processes"], "connection_cap": results["connection_cap"]},
            "sizes": sizes.__dict__,
            "figures": items,
            "missing": report.missing(items),
            "results": results,
        }
        self.stdout.write(f"ccpdash benchmark ({result['kind']}) on {machine['cpu']}, {machine['cores']}")
        self.stdout.write(report.table(items))
        json_path, md_path = report.save(result, output)
        self.stdout.write(f"\nsaved {json_path} and {md_path}")
        if result["missing"]:
            raise CommandError("figures missing: " + "; ".join(result["missing"]))

    def reads(self, sizes: list[int], progress) -> dict:
        """The reads' figures on the second throw-away database (its own migrate)."""
        databases.use(os.environ[READS_DATABASE])
        call_command("migrate", verbosity=0, interactive=False)
        progress(f"reads at {', '.join(f'{size:,}' for size in sizes)} contacts")
        return reads.run(sizes, progress=progress, export_up_to=EXPORT_UP_TO)


def _interrupt(signum, frame) -> None:
    # One is enough: a second SIGTERM must not cut the clean-up short (processes left running).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt
