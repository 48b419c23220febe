"""The dashboard in real headless Chromium against a live Daphne: a task sent through the API and moved by a
real worker shows up on the counters, the list and its timeline without a reload; moves made while the
socket is down appear after the automatic reconnect, and a lost message after the next heartbeat; an
ended session or a withdrawn permission is said on the page.

Daphne runs in a forked child on the test database, as channels' ChannelsLiveServerTestCase runs it
(whose database set-up names `test_test_<name>` on PostgreSQL, so we start the process ourselves).
Tables are flushed after every test: each one seeds what it needs.
"""

from __future__ import annotations

import io
import os
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
from asgiref.sync import SyncToAsync
from channels.layers import channel_layers
from channels.testing.live import make_application
from daphne.testing import DaphneProcess
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.management import call_command
from django.db import connections
from playwright.sync_api import Browser, Page, expect, sync_playwright

from contacts import broadcast, lifecycle, roles
from contacts.lifecycle import Source
from contacts.models import Contact, Feed, FeedType
from tests.polling import wait_for

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip
HANDLED = ("handled", "EXTERNALLY_HANDLED")


def in_thread(work: Callable, *args, **kwargs):
    """Run database work, and the broadcast its commit sends, off the main thread.

    Playwright's sync API keeps an event loop in the main thread, where async_to_sync (inside the
    broadcast) refuses to run; a worker thread is where a real sender (a view, a task) would be anyway.
    """

    def run():
        try:
            return work(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


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
    # For this module only: Playwright's loop in the main thread would trip Django's async-safety check.
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


def log_in(page: Page, live_url: str, username: str, password: str, path: str = "/") -> None:
    page.goto(f"{live_url}/accounts/login/?next={path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")


def post_task(live_url: str, name: str, selector: str) -> str:
    """Create a task through the CCP API as an application would; returns the contact's public id."""
    body = f"<Task><name>{name}</name><title>Order 4711</title><scriptSelector>{selector}</scriptSelector></Task>"
    request = urllib.request.Request(
        f"{live_url}/ccp/rest/task/feed/100", data=body.encode(), headers={"Content-Type": "application/xml"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return response.headers["Location"].rsplit("/", 1)[1]


def pair_of(public_id: str) -> tuple[str, str] | None:
    return in_thread(lambda: Contact.objects.filter(public_id=public_id).values_list("state", "reason").first())


class DashboardBrowserTests:
    def test_it_follows_a_task_from_the_api_to_its_timeline_without_reload(self, page, live_url, worker):
        in_thread(call_command, "seed_demo", stdout=io.StringIO())
        log_in(page, live_url, "supervisor", "supervisor")
        chat = page.locator('table[data-grouping="mrd"] tr[data-group="mrd:5000"]')
        expect(chat).to_have_count(0)
        contacts = page.context.new_page()
        contacts.goto(f"{live_url}/contacts/?selector=Sales")
        expect(contacts.locator("#live-status")).to_have_attribute("data-state", "live")

        public_id = post_task(live_url, "Ada Lovelace", "Sales")
        wait_for(lambda: pair_of(public_id) == HANDLED, what="the task to be handled")

        expect(chat.locator('td[data-state="handled"] .n')).to_have_text("1")
        expect(chat.locator('[data-field="handled_15m"]')).to_have_text("1")
        expect(page.locator("#activity li", has_text="Ada Lovelace")).to_have_count(4)  # T1-T4
        expect(contacts.locator("#show-new")).to_have_text("1 new — show")
        contacts.locator("#show-new").click()
        row = contacts.locator(f'tr[data-contact="{public_id}"]')
        expect(row).to_have_attribute("data-state", "handled")
        expect(row).to_contain_text("MRD 5000 / Sales")

        row.get_by_role("link", name="Ada Lovelace").click()
        timeline = contacts.locator("#timeline tr")
        expect(timeline).to_have_count(4)
        expect(timeline.nth(3)).to_contain_text("reserved → handled")
        expect(contacts.locator('dd[data-field="agent_id"]')).not_to_have_text("—")

    def test_it_shows_every_move_made_while_the_socket_was_down_after_it_reconnects(self, page, live_url, supervisor):
        feed = Feed.objects.create(id=100, name="Web tasks", type=FeedType.TASK)
        contact = in_thread(lifecycle.create, "task", feed, name="Grace Hopper", script_selector="Waiting")
        log_in(page, live_url, "sup", "sup-password", f"/contacts/{contact.public_id}")
        expect(page.locator("#timeline tr")).to_have_count(1)

        page.evaluate("window.ccpdash.closeSocket(3000)")
        expect(page.locator("#live-status")).to_have_attribute("data-state", "reconnecting")
        moves = [("queued", "EXTERNALLY_ROUTED"), ("reserved", "EXTERNALLY_ROUTED"), HANDLED]
        for state, reason in moves:
            in_thread(lifecycle.transition, contact, state, reason, source=Source.CCE, changes={"cce_mrd_id": 5002})

        expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
        expect(page.locator("#timeline tr")).to_have_count(4)
        expect(page.locator("#timeline")).to_contain_text("queued → reserved")
        expect(page.locator('#position [data-field="state"]')).to_have_text("handled")
        expect(page.locator('dd[data-field="mrd"]')).to_have_text("5002")

    def test_it_catches_up_when_a_heartbeat_names_an_event_it_never_got(self, page, live_url, supervisor, monkeypatch):
        feed = Feed.objects.create(id=100, name="Web tasks", type=FeedType.TASK)
        log_in(page, live_url, "sup", "sup-password")
        monkeypatch.setattr(broadcast, "send_transition", lambda row: None)  # the message is lost on the way
        in_thread(lifecycle.create, "task", feed, name="Edsger Dijkstra", script_selector="Waiting")
        expect(page.locator("#activity")).not_to_contain_text("Edsger Dijkstra")
        in_thread(broadcast.send_heartbeat)
        expect(page.locator("#activity li", has_text="Edsger Dijkstra")).to_have_count(1)
        not_submitted = page.locator('table[data-grouping="mrd"] tr[data-group="mrd:"]')
        expect(not_submitted.locator('td[data-state="unread"] .n')).to_have_text("1")
        expect(page.locator("#live-status")).to_have_attribute("data-state", "live")

    def test_it_says_signed_out_with_a_login_link_when_the_session_ends(self, page, live_url, supervisor):
        log_in(page, live_url, "sup", "sup-password")
        in_thread(lambda: Session.objects.all().delete())
        page.evaluate("window.ccpdash.closeSocket()")
        alert = page.locator("#live-alert")
        expect(alert).to_contain_text("You are signed out — log in again")
        expect(alert.get_by_role("link", name="log in again")).to_have_attribute("href", "/accounts/login/?next=%2F")
        expect(page.locator("#live-status")).to_have_text("signed out")

    def test_it_says_why_when_the_view_permission_is_withdrawn(self, page, live_url, supervisor):
        log_in(page, live_url, "sup", "sup-password", "/contacts/")
        in_thread(lambda: supervisor.groups.clear())
        page.evaluate("window.ccpdash.closeSocket()")
        expect(page.locator("#live-alert")).to_contain_text("may not view the live dashboard")
        expect(page.locator("#live-status")).to_have_text("no permission")
