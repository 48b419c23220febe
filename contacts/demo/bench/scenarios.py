"""The benchmark's scenarios on a running system, each returning its raw figures (report.py names and judges them).

    baselines   INSERT+COMMIT, Redis round trip, the trivial view (baselines.py)
    burst       N task creates as fast as C API clients can send them; then the pipeline drains them
    backlog     N unread contacts preloaded with the worker stopped; then the worker starts and drains them
    memory      the backlog scenario with M contacts (100,000): the worker's resident memory once it has
                handled them all
    feed        R contacts a second for S seconds created by this process through the lifecycle (no API, no
                dashboards): the pipeline's own pace, without the web tier's cost in front of it
    steady      R creates a second for S seconds with D lightweight dashboards and one Chromium page watching

Each scenario starts from the same quiet system: a fresh copy of the configured database
(databases.py) and web, worker and beat processes of its own. It samples the system (sampler.py)
from its start until its contacts are handled (or a timeout), so connections, /healthz and CPU cover
the work the load caused, not only the requests.
Database work runs outside the event loop or in a thread (Django's ORM is synchronous).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psutil
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from . import baselines, databases, load, periodic, pipeline, setup
from .browser import DashboardPage
from .dashboards import Fleet
from .sampler import Sampler
from .system import System

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Sizes:
    burst: int = 3000
    burst_clients: tuple[int, ...] = (16, 64)
    steady_rate: float = 100.0
    steady_seconds: float = 60.0
    steady_clients: int = 32
    dashboards: tuple[int, ...] = (1, 50, 200)
    backlog: int = 10_000
    memory: int = 100_000
    reads: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    baseline_seconds: float = 3.0
    round_trips: int = 2000
    view_requests: int = 3000
    settle_timeout: float = 180.0


FULL = Sizes()
# Small enough that even a busy two-core machine moves every contact through in seconds: the quick run
# checks that every figure is produced, not how good it is, so one burst and one steady scenario suffice
# (each more is another set of processes started, about 20 s of the test suite).
QUICK = Sizes(burst=50, burst_clients=(16,), steady_rate=10.0, steady_seconds=5.0, steady_clients=4, dashboards=(5,),
              backlog=50,
              memory=100, reads=(1000, 2000), baseline_seconds=1.0, round_trips=200, view_requests=200,
              settle_timeout=45.0)


def conninfo() -> str:
    """libpq connection string of Django's current default database."""
    return databases.conninfo(connection.settings_dict["NAME"])


def _in_thread(work: Callable, *args):
    """Run database work in a thread of the default executor (never in the event loop), closing its connection."""

    def run():
        try:
            return work(*args)
        finally:
            connections.close_all()

    return asyncio.to_thread(run)


class Bench:
    """A running system and what every scenario needs: sizes, progress, the supervisor's session."""

    def __init__(self, system: System, sizes: Sizes, progress: Progress) -> None:
        self.system = system
        self.sizes = sizes
        self.progress = progress
        self.session_key = setup.supervisor_session()
        self.conninfo = conninfo()

    def sampler(self) -> Sampler:
        me = psutil.Process()
        trees = {name: process.tree for name, process in self.system.processes().items()}
        # The worker is restarted by the backlog scenario: always sample the current one.
        trees["worker"] = lambda: self.system.worker.tree()
        trees["benchmark"] = lambda: [me, *me.children(recursive=True)]
        return Sampler(self.system.base_url, self.conninfo, trees)

    async def _settle(self, after: int, timeout: float | None = None) -> tuple[int, datetime]:
        """Wait until the scenario's contacts are handled (or `timeout`, by default `settle_timeout`); how
        many are not, and when."""
        timeout = timeout or self.sizes.settle_timeout
        deadline = time.monotonic() + timeout
        while (left := await _in_thread(pipeline.in_play, after)) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        if left:
            self.progress(f"  {left:,} contacts still in play after {timeout:.0f} s")
        return left, timezone.now()

    def baselines(self) -> dict:
        self.progress("baselines: INSERT+COMMIT, Redis round trip, the trivial view")
        return baselines.run(
            self.conninfo, settings.REDIS_URL, f"{settings.REDIS_PREFIX}:bench-round-trip", self.system.base_url,
            seconds=self.sizes.baseline_seconds, round_trips=self.sizes.round_trips,
            view_requests=self.sizes.view_requests, client_counts=self.sizes.burst_clients,
        )

    def burst(self, clients: int) -> dict:
        count = self.sizes.burst
        self.progress(f"burst: {count:,} task creates from {clients} API clients")
        after = pipeline.mark()

        async def go():
            sampler = await self.sampler().start()
            answers = await load.burst(self.system.base_url, load.task_request, count, clients)
            self.progress(f"  {answers.figures(201)['ok_per_second']} creates/s; waiting for the pipeline")
            settled = await self._settle(after)
            await sampler.stop()
            return answers, sampler, settled

        answers, sampler, (left, until) = asyncio.run(go())
        return {"clients": clients, "count": count, "api": answers.figures(ok=201),
                "pipeline": pipeline.rates(after, until), "unsettled": left, "system": sampler.summary()}

    def backlog(self, count: int | None = None) -> dict:
        """`count` (by default the `backlog` size) unread contacts drained by a worker started after they were
        written; the settle timeout grows with the count (at 100 handled a second, at least `settle_timeout`)."""
        count = count or self.sizes.backlog
        self.progress(f"backlog: {count:,} unread contacts preloaded with the worker stopped, then drained")
        self.system.stop_worker()
        after = pipeline.mark()
        setup.preload_backlog(count)

        async def go():
            sampler = await self.sampler().start()
            await asyncio.to_thread(self.system.start_worker)
            settled = await self._settle(after, max(self.sizes.settle_timeout, count / 100))
            await sampler.stop()
            return sampler, settled

        sampler, (left, until) = asyncio.run(go())
        rates = pipeline.rates(after, until, drain=True)
        return {"count": count, "worker_concurrency": self.system.worker_concurrency, "pipeline": rates,
                "unsettled": left, "system": sampler.summary(), "worker_memory": self.worker_memory()}

    async def _beat_running(self, timeout: float = 30.0) -> None:
        """Wait until a sweep has run (beat and the periodic worker are up), so that the periodic tasks'
        punctuality does not count beat's start-up; the steady scenarios' set-up gives it that time anyway."""
        deadline = time.monotonic() + timeout
        while "contacts.tasks.sweep_due" not in periodic.finished_runs(self.system.worker_logs()):
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.2)

    def feed(self) -> dict:
        rate, seconds = self.sizes.steady_rate, self.sizes.steady_seconds
        self.progress(f"feed: {rate:g} contacts/s for {seconds:g} s created through the lifecycle, no API")
        after = pipeline.mark()

        async def go():
            await self._beat_running()
            sampler = await self.sampler().start()
            started = datetime.now().timestamp()
            created = await _in_thread(setup.feed, rate, seconds)
            self.progress(f"  {created['per_second']} contacts/s created; waiting for the pipeline")
            settled = await self._settle(after)
            finished = datetime.now().timestamp()
            await sampler.stop()
            return created, sampler, settled, periodic.punctuality(self.system.worker_logs(), started, finished)

        created, sampler, (left, until), punctuality = asyncio.run(go())
        return {"rate": rate, "seconds": seconds, "created": created, "pipeline": pipeline.rates(after, until),
                "handled_while_fed": pipeline.while_fed(after), "unsettled": left, "periodic": punctuality,
                "system": sampler.summary()}

    def steady(self, dashboards: int, *, browser: bool = True) -> dict:
        rate, seconds = self.sizes.steady_rate, self.sizes.steady_seconds
        self.progress(f"steady: {rate:g} creates/s for {seconds:g} s with {dashboards} dashboards"
                      + (" and a Chromium page" if browser else ""))
        figures = asyncio.run(self._steady(dashboards, rate, seconds, browser))
        figures["pipeline"] = pipeline.rates(figures.pop("after"), figures.pop("until"))
        return figures

    async def _steady(self, dashboards: int, rate: float, seconds: float, browser: bool) -> dict:
        fleet = Fleet(self.system.base_url, self.session_key, dashboards)
        page = DashboardPage(self.system.base_url, self.session_key) if browser else None
        try:
            connected = await fleet.start()
            if page:
                try:
                    await page.open()
                except Exception as error:  # the run goes on; the page's figures are then missing
                    self.progress(f"  the Chromium page did not open: {error}")
                    await page.close()
                    page = None
            after = await _in_thread(pipeline.mark)
            sampler = await self.sampler().start()
            started = datetime.now().timestamp()
            answers = await load.paced(self.system.base_url, load.task_request, rate, seconds,
                                       self.sizes.steady_clients)
            self.progress(f"  {answers.figures(201)['ok_per_second']} creates/s ({connected['connected']} dashboards "
                          "connected); waiting for the pipeline and the dashboards")
            left, until = await self._settle(after)
            upto = await _in_thread(pipeline.mark)
            events = await _in_thread(pipeline.events, after, upto)
            newest = await _in_thread(pipeline.newest)
            watched = await fleet.finish({event_id: rule for event_id, (_, rule) in events.items()}, upto)
            committed = {event_id: at for event_id, (at, _) in events.items()}
            shown = await self._page_figures(page, committed, newest, upto) if page else None
            await sampler.stop()
            finished = datetime.now().timestamp()
        finally:
            fleet.stop()
            if page:
                await page.close()
        web_cpu = sampler.cpu_seconds("web")
        return {
            "after": after, "until": until,
            "rate": rate, "seconds": seconds, "dashboards": dashboards,
            "api": answers.figures(ok=201),
            "unsettled": left,
            "events": len(events),
            "dashboard": watched,
            "browser": shown,
            "web_cpu_seconds_per_1000_events": round(1000 * web_cpu / len(events), 3) if events else None,
            "periodic": periodic.punctuality(self.system.worker_logs(), started, finished),
            "system": sampler.summary(),
        }

    async def _page_figures(self, page: DashboardPage, events: dict[int, float], newest: list[int],
                            upto: int) -> dict | None:
        try:
            return await page.finish(events, newest, upto)
        except Exception as error:  # the run goes on; the page's figures are then missing
            self.progress(f"  the Chromium page did not report: {error!r}")
            return None

    def worker_memory(self) -> dict:
        """The worker's resident memory now: its processes' sum (main process and pool) and the largest one,
        which the target is for; and how many contacts it has handled. A forked child's RSS counts the pages
        it still shares with the main process, so the sum counts those more than once."""
        sizes = []
        for process in self.system.worker.tree():
            try:
                sizes.append(process.memory_info().rss)
            except psutil.Error:
                continue
        return {"rss_mb": round(sum(sizes) / 2**20, 1), "processes": len(sizes),
                "largest_process_rss_mb": round(max(sizes, default=0) / 2**20, 1),
                "contacts_handled": pipeline.contacts_handled()}


def web_server(system: System) -> str:
    """The web server's program name, as the command line ccpdash.processes gave it."""
    return Path(system.web.command[0]).name if system.web else "?"


PARTS = ("bursts", "backlog", "memory", "feed", "steady", "reads")


def run_all(copies: databases.Databases, workdir: Path, sizes: Sizes, progress: Progress,
            parts: set[str] = frozenset(PARTS)) -> dict:
    """The end-to-end scenarios of `parts` (and always the baselines), each on a fresh copy of the configured
    database with processes of its own; a scenario left out has no results (an empty list, or None)."""

    @contextmanager
    def fresh(name: str) -> Iterator[Bench]:
        with copies.copy(name.replace("-", "_")), System(workdir / name) as system:
            progress(f"{name}: web, worker and beat started (logs in {workdir / name})")
            bench = Bench(system, sizes, progress)
            yield bench
            results["web_server"] = web_server(system)
            results["processes"] = system.env_summary()

    results: dict = {}
    with fresh("baselines") as bench:
        results["connection_cap"] = bench.system.connection_cap()
        results["baselines"] = bench.baselines()
    results["bursts"] = []
    for clients in sizes.burst_clients if "bursts" in parts else ():
        with fresh(f"burst-{clients}") as bench:
            results["bursts"].append(bench.burst(clients))
    results["backlog"] = None
    if "backlog" in parts:
        with fresh("backlog") as bench:
            results["backlog"] = bench.backlog()
    results["memory"] = None
    if "memory" in parts:
        with fresh("memory") as bench:
            results["memory"] = bench.backlog(sizes.memory)
    results["feed"] = None
    if "feed" in parts:
        with fresh("feed") as bench:
            results["feed"] = bench.feed()
    results["steady"] = []
    for dashboards in sizes.dashboards if "steady" in parts else ():
        with fresh(f"steady-{dashboards}") as bench:
            results["steady"].append(bench.steady(dashboards))
    return results
