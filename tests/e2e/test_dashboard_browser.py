"""The dashboard in real headless Chromium against a live Daphne: a task sent through the API and moved by a
real worker shows up on the counters, the list and its timeline without a reload; moves made while the
socket is down appear after the automatic reconnect, and a lost message after the next heartbeat; an
ended session or a withdrawn permission is said on the page.

The live server, browser and page are the fixtures in conftest.py; the helpers are in support.py.
"""

from __future__ import annotations

import io

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from playwright.sync_api import expect

from contacts.core import lifecycle
from contacts.core.lifecycle import Source
from contacts.core.models import Feed, FeedType
from contacts.live import broadcast
from tests.e2e.support import in_thread, log_in, pair_of, post_task
from tests.polling import wait_for

pytestmark = pytest.mark.browser

HANDLED = ("handled", "EXTERNALLY_HANDLED")


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
