"""Admin workflows in real headless Chromium against a live Daphne and a real worker: an admin sees tasks discarded
for a missing script selector (a toast), follows the toast's fix link to create the selector in the Django
admin, bulk-resubmits every contact that failed for that reason and watches them become handled on the job
page; and the resubmit dialog shows decide()'s verdict before the admin confirms.

The live server, browser and page are the fixtures in conftest.py; the helpers are in support.py.
"""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from contacts.cce.models import CceSettings
from contacts.core import lifecycle
from contacts.core.lifecycle import Reason, Source, State
from contacts.core.models import Contact, Feed
from tests.e2e.support import in_thread, log_in, pair_of, post_task
from tests.polling import wait_for

pytestmark = pytest.mark.browser

MISSING = ("discarded", Reason.INVALID_SCRIPT_SELECTOR)
HANDLED = ("handled", "EXTERNALLY_HANDLED")
DISCARDED_LIST = f"/contacts/?state=discarded&reason={Reason.INVALID_SCRIPT_SELECTOR}"


def seed_demo() -> None:
    in_thread(call_command, "seed_demo", stdout=io.StringIO())


class WorkflowBrowserTests:
    def test_it_fixes_the_cause_then_bulk_resubmits_and_watches_them_handled(self, page, live_url, worker):
        seed_demo()
        log_in(page, live_url, "admin", "admin", DISCARDED_LIST)
        ids = [post_task(live_url, f"Customer {n}", "Billing") for n in range(3)]
        wait_for(lambda: all(pair_of(i) == MISSING for i in ids), what="the tasks to be discarded")

        toast = page.locator(".toast", has_text="NOTIFICATION_INVALID_SCRIPT_SELECTOR")
        toast.get_by_role("link", name="Create script selector Billing").click()
        expect(page).to_have_url(re.compile(r"/admin/contacts/dialednumber/add/"))
        expect(page.get_by_label("Script selector")).to_have_value("Billing")
        page.locator("#id_mrd").select_option(label="MRD 5000 Chat")
        page.locator("#id_script").select_option(label="Route to agents")
        page.get_by_role("button", name="Save", exact=True).click()
        # Saved, the admin lands on the alert group's resubmit offer, the admin's message with it.
        expect(page).to_have_url(re.compile(r"/contacts/bulk/resubmit\?"))
        expect(page.locator("#messages")).to_contain_text("Billing")
        expect(page.locator("#preview-count")).to_have_text("3")

        # Slow the pace (half of 40 a minute: one every 3 s), so the job is seen running, then finishing.
        in_thread(lambda: CceSettings.objects.filter(pk=CceSettings.SINGLETON_ID).update(throttle_per_minute=40))
        page.goto(live_url + DISCARDED_LIST)
        page.locator("#bulk-resubmit").click()
        expect(page.locator("#preview-count")).to_have_text("3")
        expect(page.locator("#preview-expected")).to_contain_text("every one would be queued")
        page.get_by_label("Comment").fill("Billing DN created")
        page.get_by_role("button", name="Resubmit 3 contacts").click()

        expect(page.locator("#job-state")).to_have_text("running")
        for public_id in ids:
            row = page.locator(f'#job-items tr[data-contact="{public_id}"]')
            expect(row).to_have_attribute("data-state", "handled", timeout=30_000)
        expect(page.locator("#job-summary")).to_contain_text("Finished: 3 resubmitted, 0 skipped.")
        # The outcome counts agree with the rows once they are handled, without a reload.
        expect(page.locator("#job-outcomes")).to_have_text(re.compile(r"^3 × handled"), timeout=10_000)
        assert all(pair_of(i) == HANDLED for i in ids)

    def test_it_shows_the_verdict_in_the_resubmit_dialog_before_the_admin_confirms(self, page, live_url):
        seed_demo()

        def discarded_task() -> Contact:
            contact = lifecycle.create("task", Feed.objects.get(pk=100), name="Grace", script_selector="Billing")
            lifecycle.transition(contact, State.DISCARDED, Reason.INVALID_SCRIPT_SELECTOR, source=Source.CCE)
            return contact

        contact = in_thread(discarded_task)
        log_in(page, live_url, "admin", "admin", f"/contacts/{contact.public_id}")
        page.locator("#resubmit-open").click()
        dialog = page.locator("#resubmit-dialog")
        expect(dialog).to_contain_text("script selector “Billing” still does not exist")
        dialog.get_by_label("Script selector").fill("Sales")
        dialog.get_by_role("button", name="Check again").click()
        expect(dialog).to_contain_text("would be queued in MRD 5000")
        dialog.get_by_label("Comment").fill("use Sales")
        dialog.get_by_role("button", name="Resubmit", exact=True).click()
        expect(dialog).to_contain_text("Renotified")
        dialog.get_by_role("button", name="Close").click()

        expect(page.locator("#timeline tr[data-id]").last).to_contain_text("T9")
        expect(page.locator("#timeline tr.audit")).to_contain_text("use Sales")
        expect(page.locator("#resubmit-control")).to_be_hidden()
        assert in_thread(lambda: Contact.objects.get(pk=contact.pk).script_selector) == "Sales"
