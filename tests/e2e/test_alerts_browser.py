"""Alerts in real headless Chromium against a live Daphne and a real worker: a discarded task sent through the API
toasts on every supervisor's page with its code, fix and a link that opens the script selector's admin page;
an acknowledgement by one supervisor shows on the other's page at once; a burst groups into one toast; an alert
made while the socket was down is toasted after the reconnect; the count is in the title.

The live server, browser and supervisor are the fixtures in conftest.py; the helpers are in support.py.
"""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from contacts.cce.models import DialedNumber
from contacts.core import lifecycle
from contacts.core.lifecycle import Reason, Source
from contacts.core.models import Feed, FeedType
from tests.e2e.support import in_thread, log_in, pair_of, post_task
from tests.polling import wait_for

pytestmark = pytest.mark.browser

NO_SCRIPT = ("discarded", Reason.NO_SCRIPT)


def seed_demo() -> None:
    in_thread(call_command, "seed_demo", stdout=io.StringIO())


def toast(page: Page, code: str):
    return page.locator(".toast", has_text=code)


class AlertBrowserTests:
    def test_it_toasts_a_discard_with_its_fix_link_and_shows_the_acknowledgement_to_another_supervisor(
        self, new_page, live_url, worker
    ):
        seed_demo()
        root, sup = new_page(), new_page()
        log_in(root, live_url, "superuser", "superuser")
        log_in(sup, live_url, "supervisor", "supervisor", "/contacts/")
        expect(root).to_have_title("Queues · ccpdash")

        public_id = post_task(live_url, "Ada Lovelace", "NoScript")
        wait_for(lambda: pair_of(public_id) == NO_SCRIPT, what="the task to be discarded with NO_SCRIPT")

        for page in (root, sup):
            expect(toast(page, "NOTIFICATION_NO_SCRIPT")).to_contain_text("Bind a routing script.")
            expect(toast(page, "NOTIFICATION_NO_SCRIPT")).to_contain_text("Ada Lovelace")
        expect(root).to_have_title("(1) Queues · ccpdash")
        expect(root.locator("#alert-count")).to_have_attribute("data-count", "1")
        assert root.locator('link[rel="icon"]').get_attribute("href").startswith("data:image/svg+xml,")
        pk = in_thread(lambda: DialedNumber.objects.get(string="NoScript").pk)
        fix = toast(root, "NOTIFICATION_NO_SCRIPT").get_by_role("link", name="Open script selector NoScript")
        # The fix link, with where to go once the fix is saved: the alert group's resubmit offer.
        href = re.compile(rf"^/admin/contacts/dialednumber/{pk}/change/\?next=%2Fcontacts%2Fbulk%2Fresubmit")
        expect(fix).to_have_attribute("href", href)
        toast(root, "NOTIFICATION_NO_SCRIPT").hover()  # a toast being read stays

        toast(sup, "NOTIFICATION_NO_SCRIPT").get_by_role("button", name="Acknowledge").click()

        expect(toast(root, "NOTIFICATION_NO_SCRIPT")).to_contain_text("Acknowledged by supervisor")
        row = root.locator("#alert-list li", has_text="Ada Lovelace")
        expect(row).to_contain_text("Acknowledged by supervisor")
        expect(root).to_have_title("Queues · ccpdash")
        expect(sup.locator("#alert-count")).to_have_attribute("data-count", "0")

        fix.click()
        expect(root).to_have_url(re.compile(rf"/admin/contacts/dialednumber/{pk}/change/\?next="))
        expect(root.get_by_role("heading", name="Change dialed number / script selector")).to_be_visible()
        expect(root.locator("#id_string")).to_have_value("NoScript")

    def test_it_groups_a_burst_into_one_toast_per_cause(self, new_page, live_url, worker):
        seed_demo()
        page = new_page()
        log_in(page, live_url, "supervisor", "supervisor")
        ids = [post_task(live_url, f"Burst {i}", "NoScript") for i in range(6)]
        ids += [post_task(live_url, f"Lost {i}", "Nowhere") for i in range(2)]
        wait_for(lambda: all(pair_of(i)[0] == "discarded" for i in ids), what="every task to be discarded")

        expect(toast(page, "NOTIFICATION_NO_SCRIPT")).to_have_count(1)
        expect(toast(page, "NOTIFICATION_NO_SCRIPT").locator(".toast-count")).to_have_text("6 × ")
        expect(toast(page, "NOTIFICATION_NO_SCRIPT")).to_contain_text("Latest: Burst")
        # The plain name first, the code beside it (issue 17: the same words everywhere, the code on hand).
        expect(toast(page, "in Nowhere")).to_contain_text(
            "2 × Unknown script selector NOTIFICATION_INVALID_SCRIPT_SELECTOR in Nowhere"
        )
        expect(page).to_have_title("(8) Queues · ccpdash")

        toast(page, "NOTIFICATION_NO_SCRIPT").get_by_role("button", name="Acknowledge all 6").click()
        expect(page).to_have_title("(2) Queues · ccpdash")

    def test_it_toasts_an_alert_made_while_the_socket_was_down_after_it_reconnects(
        self, new_page, live_url, supervisor
    ):
        feed = Feed.objects.create(id=100, name="Web tasks", type=FeedType.TASK)
        page = new_page()
        log_in(page, live_url, "sup", "sup-password", "/contacts/")
        page.evaluate("window.ccpdash.closeSocket(3000)")
        expect(page.locator("#live-status")).to_have_attribute("data-state", "reconnecting")

        def discard_one() -> None:
            contact = lifecycle.create("task", feed, name="Offline Olga", script_selector="Gone")
            lifecycle.transition(contact, "discarded", Reason.INVALID_SCRIPT_SELECTOR, source=Source.CCE)

        in_thread(discard_one)
        expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
        created = toast(page, "NOTIFICATION_INVALID_SCRIPT_SELECTOR")
        expect(created).to_contain_text("Offline Olga")
        # A supervisor may not act in the admin: the toast says what to fix but offers no link there.
        expect(created).to_contain_text("Create it or fix the request/notification.")
        expect(created.get_by_role("link", name="Create script selector Gone")).to_have_count(0)
