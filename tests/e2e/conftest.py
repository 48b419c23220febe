"""Fixtures of the browser tests: the live web server on the test database, headless Chromium, pages, a supervisor.

The server is the one ccpdash runs, on the test database (tests/web.py). The server and the browser
are module-scoped: each browser module gets its own.
Tables are flushed after every test: each one seeds what it needs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from playwright.sync_api import Browser, Page, sync_playwright

from contacts.core import permissions as roles
from tests.web import start_web_server

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def live_url(django_db_setup, tmp_path_factory) -> Iterator[str]:
    # One web process instead of production's two: a browser test drives one page or two at a time, and
    # each browser module starts a server of its own on a machine the suite shares.
    server = start_web_server(tmp_path_factory.mktemp("web"), workers=1)
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


@pytest.fixture
def new_page(browser, transactional_db) -> Iterator[Callable[[], Page]]:
    """Pages in separate browser contexts: each is another person with their own session."""
    contexts = []

    def make() -> Page:
        context = browser.new_context()
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: print(f"page error: {error}"))  # shown for a failed test
        return page

    yield make
    for context in contexts:
        context.close()
