"""What the system looks like every 0.2 s during a scenario: PostgreSQL connections, /healthz, CPU and memory.

Connections are the client backends on the benchmark's database in `pg_stat_activity`, less those
of this process (matched by client port), so the figure is what ccpdash's own processes hold. CPU
is the user + system time each process tree (the process and its children) used over the scenario;
memory is the peak of the tree's summed resident set.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psutil
import psycopg

from .load import Connection
from .stats import share

INTERVAL = 0.2
HEALTH_TIMEOUT = 2.0

CONNECTIONS_SQL = """
    SELECT client_port FROM pg_stat_activity
    WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
"""


class Sampler:
    """Samples while running between `start()` and `stop()`; `summary()` then gives the figures."""

    def __init__(self, base_url: str, conninfo: str, trees: dict[str, Callable[[], list[psutil.Process]]]) -> None:
        self.base_url = base_url
        self.conninfo = conninfo
        self.trees = trees
        self.connections: list[int] = []
        self.health: Counter = Counter()
        self.rss_peak: dict[str, int] = {name: 0 for name in trees}
        self.cpu_start: dict[str, dict[int, float]] = {}
        self.cpu_end: dict[str, dict[int, float]] = {}
        self._task: asyncio.Task | None = None
        self._pool = ThreadPoolExecutor(max_workers=1)  # one thread owns the one PostgreSQL connection
        self._db: psycopg.Connection | None = None
        self.started = self.finished = 0.0

    async def start(self) -> Sampler:
        self.started = time.monotonic()
        self.cpu_start = self._cpu()
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self.cpu_end = self._cpu()
        self.finished = time.monotonic()
        await asyncio.get_running_loop().run_in_executor(self._pool, self._close_db)
        self._pool.shutdown()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        health = Connection(self.base_url)
        try:
            while True:
                tick = time.monotonic()
                self.connections.append(await loop.run_in_executor(self._pool, self._count_connections))
                self.health[await self._health(health)] += 1
                self._memory()
                await asyncio.sleep(max(0.0, INTERVAL - (time.monotonic() - tick)))
        finally:
            health.close()

    async def _health(self, connection: Connection) -> int | str:
        try:
            status, _ = await asyncio.wait_for(connection.request("GET", "/healthz"), HEALTH_TIMEOUT)
            return status
        except TimeoutError:
            connection.close()
            return "timeout"
        except (OSError, asyncio.IncompleteReadError, ValueError):
            connection.close()
            return "error"

    def _count_connections(self) -> int:
        if self._db is None:
            self._db = psycopg.connect(self.conninfo, autocommit=True, application_name="ccpdash-bench-sampler")
        own = {c.laddr.port for c in psutil.Process().net_connections(kind="tcp") if c.laddr}
        ports = [row[0] for row in self._db.execute(CONNECTIONS_SQL).fetchall()]
        return sum(port not in own for port in ports)

    def _close_db(self) -> None:
        if self._db is not None:
            self._db.close()

    def _memory(self) -> None:
        for name, tree in self.trees.items():
            total = 0
            for process in tree():
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    continue
            self.rss_peak[name] = max(self.rss_peak[name], total)

    def _cpu(self) -> dict[str, dict[int, float]]:
        seen = {}
        for name, tree in self.trees.items():
            seen[name] = {}
            for process in tree():
                try:
                    times = process.cpu_times()
                    seen[name][process.pid] = times.user + times.system
                except psutil.Error:
                    continue
        return seen

    def cpu_seconds(self, name: str) -> float:
        """CPU time the tree used over the scenario (processes that started meanwhile count from zero)."""
        start, end = self.cpu_start.get(name, {}), self.cpu_end.get(name, {})
        return round(sum(t - start.get(pid, 0.0) for pid, t in end.items()), 2)

    def summary(self) -> dict:
        wall = self.finished - self.started
        answered = sum(self.health.values())
        return {
            "samples": len(self.connections),
            "connections_peak": max(self.connections, default=None),
            "healthz": {str(k): v for k, v in sorted(self.health.items(), key=str)},
            "healthz_not_200_share": share(answered - self.health[200], answered),
            "cpu_seconds": {name: self.cpu_seconds(name) for name in self.trees},
            "cpu_percent_of_one_core": {
                name: round(100 * self.cpu_seconds(name) / wall, 1) if wall else None for name in self.trees
            },
            "rss_peak_mb": {name: round(peak / 2**20, 1) for name, peak in self.rss_peak.items()},
        }
