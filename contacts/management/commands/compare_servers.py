"""Compare ASGI servers side by side on ccpdash's workload (page, API create, WebSocket fan-out); print and save.

Runs like `manage.py benchmark`: a throw-away database on the configured database server (migrated and
seeded with the demo, dropped at the end) and a private Redis namespace, so it never touches real
contacts or a running system's queues and dashboards. Every server runs in turn on the same data, in
each round, in alternating order; the figures are printed with their ratio to Daphne in the same round
and saved as JSON and Markdown, with a description of the machine, under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from importlib import metadata
from pathlib import Path
from urllib.parse import quote

import psutil
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import setup_databases, teardown_databases
from django.utils import timezone

from contacts.demo.bench.databases import forget_redis_keys

CHILD_FLAG = "CCPDASH_COMPARE_SERVERS_CHILD"
DEFAULT_SERVERS = "daphne,uvicorn,hypercorn,chosen:1,chosen:2,chosen:3"
PACKAGES = ["daphne", "uvicorn", "uvloop", "httptools", "websockets", "granian", "hypercorn", "Django",
            "channels", "channels-redis", "psycopg", "psycopg-pool"]


class Command(BaseCommand):
    help = "Run each ASGI server on the same data and load; print and save the figures with ratios to Daphne."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--servers", default=DEFAULT_SERVERS,
                            help="comma-separated; name[:web processes]; names: daphne, uvicorn, uvicorn-sansio, "
                                 "uvicorn-deflate, granian, hypercorn, chosen (ccpdash.processes.web, the one "
                                 "ccpdash runs)")
        parser.add_argument("--rounds", type=int, default=2)
        parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
        parser.add_argument("--seconds", type=float, default=10.0, help="length of each HTTP scenario")
        parser.add_argument("--sockets", default="1,50,200", help="dashboard sockets of each fan-out scenario")
        parser.add_argument("--event-rate", type=float, default=100.0, help="events a second the publisher sends")
        parser.add_argument("--event-seconds", type=float, default=5.0, help="how long it sends at most")
        parser.add_argument("--deliveries", type=int, default=10_000,
                            help="at most this many frames per fan-out (events × dashboards): fewer events to more")
        parser.add_argument("--probe-seconds", type=float, default=35.0,
                            help="patience with slow-drip clients (first round only; 0 skips the probes)")
        parser.add_argument("--output", default=str(Path(settings.BASE_DIR) / "benchmarks" / "results"))
        # The fan-out's publisher: this command again, in a process of its own.
        parser.add_argument("--publish", help=argparse.SUPPRESS)
        parser.add_argument("--publish-count", type=int, default=0, help=argparse.SUPPRESS)

    def handle(self, *args, **options) -> None:
        from contacts.demo import servers
        from contacts.live.broadcast import DASHBOARD_GROUP

        if options["publish"]:
            sent = servers.run(servers.publish(DASHBOARD_GROUP, options["publish_count"], options["event_rate"],
                                               options["publish"]))
            self.stdout.write(json.dumps(sent))
            return
        signal.signal(signal.SIGTERM, _interrupt)  # a killed run still stops its servers and drops its database
        if not os.environ.get(CHILD_FLAG):
            # Settings (queue names, channel prefix) are fixed at start-up: the isolated run is a fresh
            # process with its own REDIS_PREFIX, which the servers and the publisher inherit.
            prefix = f"ccpdash-servers-{uuid.uuid4().hex[:8]}"
            env = {**os.environ, CHILD_FLAG: "1", "REDIS_PREFIX": prefix}
            try:
                code = subprocess.run([sys.executable, *sys.argv], env=env).returncode
            finally:
                forget_redis_keys(prefix)
            sys.exit(code)
        specs = self.installed([_spec(item) for item in options["servers"].split(",") if item.strip()])
        # A name of our own for the throw-away database, so a test run's test database is never touched.
        test_name = f"ccpdash_servers_{uuid.uuid4().hex[:8]}"
        if connection.vendor == "sqlite":
            test_name = str(Path(settings.BASE_DIR) / "var" / f"{test_name}.sqlite3")
        connection.settings_dict.setdefault("TEST", {})["NAME"] = test_name
        # Nothing may open a connection before this: Django closes a PostgreSQL pool opened earlier only when
        # it drops the test database, so the pool would stay on the configured database.
        old_config = setup_databases(verbosity=0, interactive=False, serialized_aliases=set())
        try:
            machine = describe_machine()
            call_command("seed_demo", stdout=open(os.devnull, "w"))
            results = self.compare(specs, options)
        finally:
            teardown_databases(old_config, verbosity=0)
        results["machine"] = {**machine, "load average at end": os.getloadavg()}
        self.report(results, Path(options["output"]))

    def installed(self, specs: list[tuple[str, int]]) -> list[tuple[str, int]]:
        """The candidates whose server is installed; the others are named and skipped.

        requirements.txt pins what ccpdash runs (and Daphne); the rest comes from README "Web server"'s
        `pip install` line.
        """
        from contacts.demo import servers

        found = []
        for name, workers in specs:
            try:
                command = servers.candidate_command(name, "127.0.0.1", 0, workers)
            except ValueError as error:
                raise CommandError(f"--servers: {error}") from None
            if Path(command[0]).exists():
                found.append((name, workers))
            else:
                self.stderr.write(f"skipping {_label(name, workers)}: {command[0]} is not installed")
        if not any(name == "daphne" for name, _ in found):
            raise CommandError("Daphne must be among the servers: every figure is compared with it")
        return found

    def compare(self, specs: list[tuple[str, int]], options: dict) -> dict:
        from contacts.demo import servers

        logs = Path(tempfile.mkdtemp(prefix="ccpdash-servers-"))
        env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict),
               "DJANGO_SETTINGS_MODULE": "ccpdash.settings", "PYTHONUNBUFFERED": "1"}
        env.pop(CHILD_FLAG)
        cookie = supervisor_session()
        rounds = []
        for number in range(options["rounds"]):
            order = specs if number % 2 == 0 else specs[::-1]  # drift on a shared machine evens out
            figures = {}
            for name, workers in order:
                label = _label(name, workers)
                self.stderr.write(f"round {number + 1}: {label}…")
                command = servers.candidate_command(name, "127.0.0.1", "$PORT", workers)
                figures[label] = self.measure(servers, name, workers, env, logs, cookie, options,
                                              probe=number == 0 and options["probe_seconds"] > 0)
                figures[label]["command"] = " ".join(Path(command[0]).name if i == 0 else part
                                                     for i, part in enumerate(command))
            rounds.append(figures)
        return {"database": connection.vendor, "clients": options["clients"], "seconds": options["seconds"],
                "event rate": options["event_rate"], "event seconds": options["event_seconds"],
                "deliveries": options["deliveries"],
                "database settings": _database_settings(), "rounds": rounds, "logs": str(logs)}

    def measure(self, servers, name: str, workers: int, env: dict, logs: Path, cookie: str, options: dict,
                *, probe: bool) -> dict:
        port = servers.free_port()
        label = _label(name, workers)
        server = servers.ServerProcess(servers.candidate_command(name, "127.0.0.1", port, workers), env,
                                       logs / f"{label.replace(' ', '_')}-{port}.log", port).start()
        me = psutil.Process()
        try:
            # Warm up (imports, templates, connections), and stop at once if the server cannot do the work.
            servers.run(servers.http_load(port, servers.PAGE, clients=4, seconds=1.0))
            warm = servers.run(servers.http_load(port, servers.CREATE, clients=4, seconds=1.0))
            if not warm["statuses"].get(201):
                raise CommandError(f"{label} answered creates with {warm['statuses']}:\n{server.log_tail()}")
            figures: dict = {}

            def scenario(key: str, coroutine) -> None:
                server_before, client_before, started = server.cpu_seconds(), _cpu(me), time.monotonic()
                with servers.BackendCounter() as backends:
                    result = servers.run(coroutine)
                elapsed = time.monotonic() - started
                result["server cores"] = round((server.cpu_seconds() - server_before) / elapsed, 2)
                result["client cores"] = round((_cpu(me) - client_before) / elapsed, 2)
                result["database connections"] = backends.peak
                figures[key] = result

            clients, seconds = options["clients"], options["seconds"]
            scenario("page", servers.http_load(port, servers.PAGE, clients=clients, seconds=seconds))
            scenario("create", servers.http_load(port, servers.CREATE, clients=clients, seconds=seconds))
            for sockets in [int(n) for n in options["sockets"].split(",")]:
                events = max(1, min(round(options["event_rate"] * options["event_seconds"]),
                                    options["deliveries"] // sockets))
                scenario(f"ws {sockets}", servers.fanout(
                    port, cookie, sockets=sockets, events=events,
                    start_publisher=lambda tag, events=events: self.start_publisher(env, tag, events, options)))
                if not figures[f"ws {sockets}"]["delivered"]:
                    raise CommandError(f"{label}: no event reached a dashboard ({figures[f'ws {sockets}']}):\n"
                                       f"{server.log_tail()}")
            if probe:
                figures["limits"] = servers.run(servers.probe_limits(port, patience=options["probe_seconds"]))
            return figures
        finally:
            server.stop()

    def start_publisher(self, env: dict, tag: str, events: int, options: dict) -> subprocess.Popen:
        command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "compare_servers", "--publish", tag,
                   "--publish-count", str(events), "--event-rate", str(options["event_rate"])]
        return subprocess.Popen(command, env={**env, CHILD_FLAG: "1"}, stdout=subprocess.PIPE)

    def report(self, results: dict, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        base = folder / f"servers-{results['database']}-{timezone.now():%Y%m%dT%H%M%S}"
        base.with_suffix(".json").write_text(json.dumps(results, indent=2))  # first: the figures are never lost
        text = markdown(results)
        base.with_suffix(".md").write_text(text)
        self.stdout.write(text)
        self.stdout.write(f"saved {base}.json and {base}.md")


def _interrupt(signum, frame) -> None:
    # Stop the servers here: raised inside an event loop's callback, the exception may be swallowed there.
    from contacts.demo.servers import ServerProcess

    ServerProcess.stop_all()
    raise KeyboardInterrupt


def _spec(item: str) -> tuple[str, int]:
    name, _, workers = item.strip().partition(":")
    try:
        return name, int(workers or 1)
    except ValueError:
        raise CommandError(f"--servers: {item!r} is not name or name:processes") from None


def _label(name: str, workers: int) -> str:
    if name == "chosen":
        from contacts.demo import servers

        name = f"{Path(servers.candidate_command(name, '127.0.0.1', 0)[0]).name} (chosen)"
    return name if workers == 1 else f"{name} ×{workers}"


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def supervisor_session() -> str:
    """The session cookie of the demo supervisor (seed_demo), for the dashboard's socket."""
    client = Client()
    client.force_login(get_user_model().objects.get(username="supervisor"))
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def database_url(db: dict) -> str:
    """DATABASE_URL of the throw-away database, for the servers started on it."""
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{quote(db['NAME'])}"


def _database_settings() -> dict:
    """How the servers connect (a pool or persistent connections), recorded beside the figures."""
    db = settings.DATABASES["default"]
    return {"CONN_MAX_AGE": db.get("CONN_MAX_AGE"), "pool": (db.get("OPTIONS") or {}).get("pool")}


def describe_machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()" if connection.vendor == "postgresql" else "SELECT sqlite_version()")
        database = cursor.fetchone()[0]
    try:
        redis_version = redis.Redis.from_url(settings.REDIS_URL).info("server")["redis_version"]
    except redis.RedisError:
        redis_version = "?"
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory GB": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(), "python": platform.python_version(), "database": database,
        "redis": redis_version, "packages": versions, "load average at start": os.getloadavg(),
        "at": timezone.now().isoformat(),
    }


# --- The report ---

def markdown(results: dict) -> str:
    """The figures as Markdown: means over the rounds, and the mean of each round's ratio to Daphne."""
    rounds = results["rounds"]
    labels = list(rounds[0])
    machine = results["machine"]
    lines = [
        f"# ASGI servers on ccpdash's workload — {results['database']}, {len(rounds)} rounds",
        "",
        f"{machine['cpu']}, {machine['cores']} cores, {machine['memory GB']} GB; {machine['os']}; Python "
        f"{machine['python']}; {machine['database'].split(' on ')[0]}; Redis {machine['redis']}; load average "
        f"{_loads(machine['load average at start'])} at start, {_loads(machine['load average at end'])} at end.",
        f"Database connections: {results['database settings']}. HTTP: {results['clients']} keep-alive clients, "
        f"{results['seconds']:g} s per scenario. Fan-out: {results['event rate']:g} events/s to every open "
        f"dashboard, for {results['event seconds']:g} s or {results['deliveries']:,} frames in all. Figures are "
        "means over the rounds; × Daphne is the mean of each round's ratio to Daphne in that round.",
        "",
        "| server | page req/s | × Daphne | page p50 / p99 ms | creates/s | × Daphne | create p50 / p99 ms | "
        "non-2xx / errors | server cores page / create | peak DB connections |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label in labels:
        page, create = (_mean(rounds, label, name) for name in ("page", "create"))
        lines.append(
            f"| {label} | {page['per_second']:.0f} | {_ratio(rounds, label, 'page')} | "
            f"{_ms(page['p50_ms'])} / {_ms(page['p99_ms'])} | {create['per_second']:.0f} | "
            f"{_ratio(rounds, label, 'create')} | {_ms(create['p50_ms'])} / {_ms(create['p99_ms'])} | "
            f"{create['non_2xx']:.0f} / {create['errors'] + page['errors']:.0f} | "
            f"{page['server cores']:.2f} / {create['server cores']:.2f} | {create['database connections']:.0f} |"
        )
    lines += ["", "| server | dashboards | delivered/s | × Daphne | delivered | p50 / p99 ms | server cores | "
              "compression |", "|---|---|---|---|---|---|---|---|"]
    for label in labels:
        for key in [k for k in rounds[0][label] if k.startswith("ws ")]:
            ws = _mean(rounds, label, key)
            compression = ", ".join(sorted({e for r in rounds for e in r[label][key]["extensions"]}))
            lines.append(
                f"| {label} | {key[3:]} | {ws['per_second']:.0f} | {_ratio(rounds, label, key)} | "
                f"{ws['percent']:.1f} % | {_ms(ws['p50_ms'])} / {_ms(ws['p99_ms'])} | {ws['server cores']:.2f} | "
                f"{compression} |"
            )
    probed = [label for label in labels if "limits" in rounds[0][label]]
    if probed:
        lines += ["", "Oversized and slow requests (through ccpdash.asgi's guard; slow: one byte a second):", "",
                  "| server | 20 KB URL | 70 KB headers | slow headers | slow body |", "|---|---|---|---|---|"]
        for label in probed:
            limits = rounds[0][label]["limits"]
            slow = [f"{limits[k]['outcome']} after {limits[k]['after_s']:g} s" for k in ("slow headers", "slow body")]
            lines.append(f"| {label} | {limits['20 KB URL']} | {limits['70 KB headers']} | {slow[0]} | {slow[1]} |")
    lines += ["", "Commands:", ""] + [f"- {label}: `{rounds[0][label]['command']}`" for label in labels]
    return "\n".join(lines) + "\n"


def _mean(rounds: list[dict], label: str, scenario: str) -> dict:
    """The scenario's numeric figures averaged over the rounds (None where a round had none)."""
    runs = [r[label][scenario] for r in rounds]
    out = {}
    for key in runs[0]:
        values = [run[key] for run in runs if isinstance(run.get(key), int | float) and not isinstance(run[key], bool)]
        if values or runs[0][key] is None:
            out[key] = statistics.fmean(values) if values else None
    return out


def _ratio(rounds: list[dict], label: str, scenario: str) -> str:
    ratios = [r[label][scenario]["per_second"] / r["daphne"][scenario]["per_second"]
              for r in rounds if "daphne" in r and r["daphne"][scenario]["per_second"]]
    return f"{statistics.fmean(ratios):.2f}" if ratios else "–"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def _loads(loads) -> str:
    return " ".join(f"{load:.1f}" for load in loads)
