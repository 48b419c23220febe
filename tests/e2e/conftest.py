"""Fixtures of the browser tests: a live Daphne on the test database, headless Chromium, pages, a supervisor.

Daphne runs in a forked child on the test database, as channels' ChannelsLiveServerTestCase runs it
(whose database set-up names `test_test_<name>` on PostgreSQL, so we start the process ourselves).
The server and the browser are module-scoped: each browser module gets its own, as when it imported them.
Tables are flushed after every test: each one seeds what it needs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
from asgiref.sync import SyncToAsync
from channels.layers import channel_layers
from channels.testing.live import make_application
from daphne.testing import DaphneProcess
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.db import connections
from playwright.sync_api import Browser, Page, sync_playwright

from contacts.core import permissions as roles

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip


def forget_parent_threads_and_loops() -> None:
    """In the forked server, drop what the parent's earlier (async) tests left that cannot survive a fork.

    asgiref's one thread for thread-sensitive sync code (the socket's session and permission
    lookups) did not come along, so work handed to it would wait forever; the channel layer
    holds Redis pools bound to the parent's event loops.
    """
    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
    channel_layers.backends = {}


@pytest.fixture(scope="module")
def live_url(django_db_setup, django_db_blocker) -> Iterator[str]:
    application = partial(make_application, static_wrapper=ASGIStaticFilesHandler)
    server = DaphneProcess("localhost", application, setup=forget_parent_threads_and_loops)
    server.daemon = True
    # Forked while pytest-django lets the database be used, so the server may use it too; with
    # no connection open, so it opens its own instead of sharing our sockets.
    with django_db_blocker.unblock():
        connections.close_all()
        server.start()
    if not server.ready.wait(timeout=30):
        server.terminate()
        raise RuntimeError("the live Daphne server did not start")
    yield f"http://localhost:{server.port.value}"
    server.terminate()
    server.join(10)


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
