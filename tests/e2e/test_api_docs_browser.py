"""The API documentation page in real headless Chromium: Swagger UI from this site's own files renders the CCP API's
document, and, for a signed-in user, the read API's, under the site's Content-Security-Policy (no violation)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.support import log_in

pytestmark = pytest.mark.browser


class ApiDocsBrowserTests:
    def test_it_shows_both_documents_from_this_site_alone(self, page, live_url, supervisor) -> None:
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("request", lambda request: None if request.url.startswith(live_url) else problems.append(request.url))
        log_in(page, live_url, "sup", "sup-password")
        page.goto(f"{live_url}/api/docs")

        expect(page.locator(".swagger-ui .info .title")).to_contain_text("ccpdash CCP-compatible API")
        expect(page.locator(".opblock-summary-path").first).to_contain_text("/ccp/rest/task/feed/{feedId}")

        page.select_option(".download-url-wrapper select", label="Read API (v1)")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("ccpdash read API")
        expect(page.locator(".opblock-summary-path", has_text="/api/v1/queues")).to_be_visible()
        assert problems == [], f"errors or requests elsewhere: {problems}"
