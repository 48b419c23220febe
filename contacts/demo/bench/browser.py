"""One real dashboard page in headless Chromium (Debian's, never a downloaded one): does the page's JS keep up?

The page is `/`, signed in with the benchmark supervisor's session cookie. A script added before the
page's own records the moment live.js hands each new event to the page (`ccpdash:events`, fired for
events from the socket and from its resyncs alike); at the end the page is asked what it shows — the
newest id it has, the ids of its "Recent activity" list — and that is compared with the database.

Chromium is driven by Playwright's sync API in a child process of its own (`DashboardPage`), so the
parent only ever waits on a pipe with a deadline: a page or a driver that stops answering is killed
with its browser, its figures are missing, and the run goes on.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time

import psutil

from .stats import ms, percentile, share

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip
OPEN_TIMEOUT = 90.0
FINISH_LIMIT = 30.0  # how long a page that is behind gets to catch up by resyncing

RECORDER = """
window.__bench = { seen: [], errors: 0 };
window.addEventListener("ccpdash:events", (e) => {
  const t = Date.now();
  for (const event of e.detail) window.__bench.seen.push([event.id, t]);
});
window.addEventListener("error", () => { window.__bench.errors += 1; });
"""

SHOWN = """() => ({
  seen: window.__bench.seen,
  errors: window.__bench.errors,
  lastId: window.ccpdash && window.ccpdash.lastId ? window.ccpdash.lastId() : null,
  status: document.getElementById("live-status")?.dataset.state,
  activity: [...document.querySelectorAll("#activity li[data-id]")].map((li) => Number(li.dataset.id)),
})"""


def figures(shown: dict, events: dict[int, float], newest: list[int], last_id: int, page_errors: int) -> dict:
    """What the page got of `events` (id → commit time) and whether it shows the database's `newest` ids."""
    seen = {event_id: t / 1000 for event_id, t in shown["seen"]}
    latencies = [seen[i] - at for i, at in events.items() if i in seen]
    activity = shown["activity"]
    return {
        "expected_events": len(events),
        "min_ms": ms(min(latencies, default=None)),
        "p50_ms": ms(percentile(latencies, 50)),
        "p99_ms": ms(percentile(latencies, 99)),
        "missing_share": share(sum(i not in seen for i in events), len(events)),
        "last_id": shown["lastId"],
        "database_last_id": last_id,
        "activity_matches_database": bool(activity) and activity == newest[: len(activity)],
        "status": shown["status"],
        "page_errors": page_errors + shown["errors"],
    }


def _child(pipe, base_url: str, session_key: str) -> None:
    from playwright.sync_api import sync_playwright

    errors = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            context.add_cookies([{"name": "sessionid", "value": session_key, "url": base_url}])
            context.add_init_script(RECORDER)
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(error))
            page.goto(f"{base_url}/")
            page.wait_for_selector('#live-status[data-state="live"]', timeout=30_000)
        except Exception as error:
            pipe.send(("failed", repr(error)))
            return
        pipe.send(("ready", None))
        _, events, newest, last_id = pipe.recv()
        deadline = time.time() + FINISH_LIMIT
        shown = page.evaluate(SHOWN)
        # A page behind catches up by its resync (a heartbeat names a newer id): give it that time.
        while (shown["lastId"] or 0) < last_id and time.time() < deadline:
            page.wait_for_timeout(500)
            shown = page.evaluate(SHOWN)
        page.wait_for_timeout(300)  # an animation frame or two more for the activity list
        pipe.send(("done", figures(page.evaluate(SHOWN), events, newest, last_id, len(errors))))
        browser.close()


class DashboardPage:
    """The live dashboard in Chromium, in a child process: `open()`, `finish(...)` once the load is over, `close()`."""

    def __init__(self, base_url: str, session_key: str) -> None:
        self.pipe, child_pipe = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(
            target=_child, args=(child_pipe, base_url, session_key), daemon=True
        )

    async def open(self) -> None:
        self.process.start()
        kind, detail = await asyncio.to_thread(self._receive, OPEN_TIMEOUT)
        if kind != "ready":
            raise RuntimeError(f"the page did not open: {detail}")

    async def finish(self, events: dict[int, float], newest: list[int], last_id: int) -> dict:
        self.pipe.send(("finish", events, newest, last_id))
        _, result = await asyncio.to_thread(self._receive, FINISH_LIMIT + 60)
        return result

    def _receive(self, timeout: float):
        if not self.pipe.poll(timeout):
            raise TimeoutError(f"the Chromium page did not answer within {timeout:.0f} s")
        return self.pipe.recv()

    async def close(self) -> None:
        if self.process.pid is None:
            return  # never started
        await asyncio.to_thread(self.process.join, 15)
        if self.process.is_alive():
            self._kill()

    def _kill(self) -> None:
        """The child, Playwright's driver and Chromium: all started by this page, all killed by pid."""
        try:
            tree = [psutil.Process(self.process.pid), *psutil.Process(self.process.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for process in tree:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                continue
        self.process.join(5)
