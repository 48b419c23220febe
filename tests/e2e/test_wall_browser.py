"""The wall board in real headless Chromium against the live web server and a real worker: opened from a wall board
link without a session, one fixed screen at 1920×1080 and at 3840×2160 (every KPI tile visible, no scrollbar,
numbers at least 48 px), updated live as contacts queue, and a "not live" banner as soon as its socket is cut.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from contacts.wall.models import WallBoardLink
from tests.e2e.support import in_thread, pair_of, post_task
from tests.polling import wait_for

pytestmark = pytest.mark.browser

SIZES = [(1920, 1080), (3840, 2160)]


def new_link() -> str:
    in_thread(call_command, "seed_demo", stdout=io.StringIO())
    return in_thread(lambda: WallBoardLink.create("Floor 2")[1])


def open_board(browser, live_url: str, key: str, size: tuple[int, int]) -> Page:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})  # no session: a kiosk
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.on("pageerror", lambda error: print(f"page error: {error}"))
    page.goto(f"{live_url}/wall/?key={key}")
    expect(page).to_have_url(f"{live_url}/wall/")  # the key left the address bar for the board's cookie
    expect(page.locator("body")).to_have_attribute("data-live", "true")
    return page


class WallBoardBrowserTests:
    @pytest.mark.parametrize("size", SIZES, ids=["1920x1080", "3840x2160"])
    def test_it_shows_every_kpi_tile_on_one_screen_without_a_scrollbar(self, browser, live_url, transactional_db,
                                                                       size):
        page = open_board(browser, live_url, new_link(), size)
        scroll = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        assert scroll == list(size), "the board scrolls"
        tiles = page.locator("#tiles .tile")
        expect(tiles).to_have_count(10)
        for box in [tiles.nth(i).bounding_box() for i in range(10)]:
            assert box["x"] >= 0 and box["y"] >= 0
            assert box["x"] + box["width"] <= size[0] and box["y"] + box["height"] <= size[1]
        font_px = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.tile-value')).fontSize)")
        assert font_px >= 48
        page.context.close()

    def test_it_updates_live_and_says_when_it_is_not_live(self, browser, live_url, transactional_db, worker):
        page = open_board(browser, live_url, new_link(), SIZES[0])
        waiting = page.locator('#tiles .tile[data-key="waiting"] .tile-value')
        expect(waiting).to_have_text("0")
        ids = [post_task(live_url, f"Wall {i}", "Waiting") for i in range(3)]  # MRD 5002: no agent is ready
        wait_for(lambda: all(pair_of(i) == ("queued", "EXTERNALLY_ROUTED") for i in ids), what="three queued")
        expect(waiting).to_have_text("3")
        expect(page.locator('#queue-rows tr[data-mrd="5002"] td').first).to_have_text("3")

        page.evaluate("window.ccpdash.cutSocket(8000)")
        banner = page.locator("#stale")
        expect(banner).to_be_visible(timeout=9_000)
        expect(banner).to_contain_text("Not live since")
        expect(page.locator("body")).to_have_attribute("data-live", "false")
        expect(banner).to_be_hidden(timeout=20_000)  # back: it reconnected and re-read the board
        page.context.close()

    def test_a_revoked_link_no_longer_opens_the_board(self, browser, live_url, transactional_db):
        key = new_link()
        in_thread(lambda: WallBoardLink.objects.update(revoked_at="2026-01-01T00:00:00Z"))
        context = browser.new_context()
        page = context.new_page()
        response = page.goto(f"{live_url}/wall/?key={key}")
        assert response.status == 403
        expect(page.locator("h1")).to_contain_text("does not open the board")
        context.close()
