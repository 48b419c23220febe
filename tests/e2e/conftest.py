"""Fixtures of the browser tests: the live web server on the test database, headless Chromium, pages, a supervisor.

The server is the one ccpdash runs (ccpdash.processes.web, README "Web server"), started as a subprocess
on the test database the way tests/workers.py starts Celery workers (tests.settings with
CCPDASH_USE_TEST_DATABASE=1, inheriting the run's REDIS_PREFIX), so the browser meets the same server,
options and request limits as in production; WhiteNoise serves the static files, as it does there.
The server and the browser are module-scoped: each browser module gets its own.
Tables are flushed after every test: each one seeds what it needs.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from playwright.sync_api import Browser, Page, sync_playwright

from ccpdash import processes
from contacts.core import permissions as roles
from contacts.demo.servers import ServerProcess

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_web_server(log_dir) -> ServerProcess:
    """processes.web() on a free port, on the test database (created by pytest-django before this runs).

    One web process instead of production's two: a browser test drives one page or two at a time, and
    each browser module starts a server of its own on a machine the suite shares.
    """
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "CCPDASH_USE_TEST_DATABASE": "1",
           "PYTHONUNBUFFERED": "1"}
    command = processes.web("127.0.0.1", port, workers=1)
    return ServerProcess(command, env, log_dir / f"web-{port}.log", port).start()


@pytest.fixture(scope="module")
def live_url(django_db_setup, tmp_path_factory) -> Iterator[str]:
    server = start_web_server(tmp_path_factory.mktemp("web"))
    yield f"http://127.0.0.1:{server.port}"
    server.stop()
    print(f"--- web server (last lines) ---\n{server.log_tail()}")


@pytest.fixture(scope="module")
def browser(live_url) -> Iterator[Browser]:
    # Only while a browser module runs (the fixture is module-scoped): Playwright's loop in the main thread
    # would trip Django's async-safety check.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    playwright.stop()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, transactional_db) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.on("pageerror", lambda error: print(f"page error: {error}"))  # shown for a failed test
    yield page
    context.close()


@pytest.fixture
def supervisor(transactional_db):
    roles.ensure_role_groups()
    user = get_user_model().objects.create_user("sup", password="sup-password")
    user.groups.add(Group.objects.get(name=roles.SUPERVISORS))
    return user
