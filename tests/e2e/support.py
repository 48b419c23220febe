"""Helpers of the browser tests: database work off Playwright's thread, logging in, sending a task, its position."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.db import connections
from playwright.sync_api import Page, expect

from contacts.core.models import Contact


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
