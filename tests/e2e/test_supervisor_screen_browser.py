"""The supervisor's screen in real headless Chromium against the live web server and a real worker: a burst of
discards is one growing group that closes itself for everybody once its contacts are resubmitted, a cancel is
never shown as a discard, and a supervisor is offered no fix link into the admin.
"""

from __future__ import annotations

import io
import re
import urllib.request

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from contacts.cce.models import DialedNumber, RoutingScript
from contacts.core.lifecycle import Reason
from tests.e2e.support import in_thread, log_in, pair_of, post_task
from tests.polling import wait_for

pytestmark = pytest.mark.browser

NO_SCRIPT = ("discarded", Reason.NO_SCRIPT)
GROUP = '#alert-groups li[data-group="NOTIFICATION_NO_SCRIPT in NoScript"]'


def seed_demo() -> None:
    in_thread(call_command, "seed_demo", stdout=io.StringIO())


class SupervisorScreenBrowserTests:
    def test_a_burst_is_one_growing_group_that_closes_itself_for_everybody_once_resubmitted(
        self, new_page, live_url, worker
    ):
        seed_demo()
        watcher = new_page()
        log_in(watcher, live_url, "supervisor", "supervisor")
        watcher.evaluate("window.notReloaded = true")
        ids = [post_task(live_url, f"Burst {i}", "NoScript") for i in range(20)]
        wait_for(lambda: all(pair_of(i) == NO_SCRIPT for i in ids), what="all 20 discarded")
        group = watcher.locator(GROUP)
        expect(group.locator(".group-count")).to_have_text("20 ×")
        expect(watcher.locator("#alert-groups > li")).to_have_count(1)  # one group, not twenty rows
        expect(group.get_by_role("link", name=re.compile("script selector"))).to_have_count(0)  # no admin link
        expect(group.get_by_role("button", name="Acknowledge 20")).to_be_visible()

        # The admin fixes the cause, then resubmits the whole group from its own link.
        in_thread(lambda: DialedNumber.objects.filter(string="NoScript").update(
            script=RoutingScript.objects.get(name="Route to agents")))
        admin = new_page()
        log_in(admin, live_url, "admin", "admin")
        admin.locator(GROUP).get_by_role("link", name="Resubmit all 20…").click()
        expect(admin.locator("#preview-count")).to_have_text("20")
        admin.get_by_role("button", name="Resubmit 20 contacts").click()
        expect(admin.locator("#job-summary")).to_contain_text("Finished: 20 resubmitted", timeout=60_000)

        # On the supervisor's page, without a reload, the group has closed itself.
        expect(group).to_have_attribute("data-status", "resolved", timeout=30_000)
        expect(group).to_contain_text("resolved")
        assert watcher.evaluate("window.notReloaded") is True

    def test_a_cancel_is_never_shown_as_a_discard(self, new_page, live_url, worker):
        seed_demo()
        page = new_page()
        log_in(page, live_url, "supervisor", "supervisor")
        public_id = post_task(live_url, "Changed my mind", "Waiting")  # MRD 5002: no agent is ready
        wait_for(lambda: pair_of(public_id) == ("queued", "EXTERNALLY_ROUTED"), what="queued")
        request = urllib.request.Request(f"{live_url}/ccp/rest/task/contact/{public_id}", method="DELETE")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        wait_for(lambda: pair_of(public_id) == ("discarded", Reason.TASK_CANCEL_SUCCEEDED), what="cancelled")

        expect(page.locator('#kpi-tiles .kpi[data-key="cancelled"] .kpi-value')).to_have_text("1")
        expect(page.locator('#kpi-tiles .kpi[data-key="discarded"] .kpi-value')).to_have_text("0")
        row = page.locator('table.queues[data-grouping="mrd"] tr[data-group="mrd:5002"]')
        expect(row.locator('td[data-state="cancelled"] .n')).to_have_text("1")
        expect(row.locator('td[data-state="discarded"] .n')).to_have_text("0")
        expect(row.locator('[data-field="discarded_today"]')).to_have_text("0")
        activity = page.locator("#activity li", has_text="Changed my mind").first
        expect(activity).to_have_attribute("data-state", "cancelled")
        expect(page.locator("#alert-groups .alert-group")).to_have_count(0)
        expect(page.locator(".toast")).to_have_count(0)

    def test_refused_and_missing_pages_carry_the_navigation(self, new_page, live_url, transactional_db):
        seed_demo()
        page = new_page()
        log_in(page, live_url, "supervisor", "supervisor")
        for path, status in (("/audit/", 403), ("/no-such-page", 404)):
            response = page.goto(live_url + path)
            assert response.status == status, path
            nav = page.get_by_role("navigation", name="Main")
            expect(nav.get_by_role("link", name="Queues")).to_be_visible()
            expect(nav.get_by_role("button", name="Log out")).to_be_visible()
            expect(page.get_by_role("link", name="Go to the dashboard")).to_be_visible()
