"""The 403 and 404 pages in the site's frame, the favicon, and a refused request logged as one line.

A page's 403 and 404 (ccpdash.failures) carry the top bar with the user's navigation and ways back; the CCP
API's paths keep their answers (tests/api/test_access.py holds the ApiErrors ones). A refusal is logged as
one line without a traceback (ccpdash.request_log, wired in settings.LOGGING), a 500 still with its traceback.
DEBUG is off here, as in production: Django shows its own debug 404 page otherwise.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.template import loader
from django.test import Client, RequestFactory
from django.views import defaults

from ccpdash import failures
from contacts.core import permissions as roles
from contacts.demo.servers import ServerProcess
from tests.project.test_failures import with_middleware
from tests.web import start_web_server

# The top bar's links for a signed-in supervisor (templates/base.html).
NAVIGATION = (b'href="/">Queues</a>', b'href="/contacts/">Contacts</a>', b"Log out</button>")
LOGIN_LINK = b'<a href="/accounts/login/">Log in</a>'
DASHBOARD_LINK = b'<a href="/">Go to the dashboard</a>'
ADMINS_ONLY = "/audit/"


@pytest.fixture(autouse=True)
def debug_off(settings) -> None:
    settings.DEBUG = False


@pytest.fixture
def supervisor(django_user_model):
    roles.ensure_role_groups()
    user = django_user_model.objects.create_user("sup")
    user.groups.add(Group.objects.get(name=roles.SUPERVISORS))
    return user


@pytest.fixture
def sup_client(client, supervisor):
    client.force_login(supervisor)
    return client


def refusal_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name.startswith(("django.request", "django.security"))]


@pytest.mark.django_db
class NotFoundPageTests:
    def test_it_shows_a_signed_in_supervisor_the_navigation_and_the_way_home(self, sup_client):
        response = sup_client.get("/no-such-page")
        assert response.status_code == 404
        assert all(link in response.content for link in NAVIGATION)
        assert b"Page not found" in response.content and b">sup</span>" in response.content
        assert DASHBOARD_LINK in response.content and LOGIN_LINK not in response.content

    def test_it_offers_an_anonymous_visitor_the_login_link(self, client):
        response = client.get("/no-such-page")
        assert response.status_code == 404
        assert b"Page not found" in response.content and LOGIN_LINK in response.content
        assert b"Log out" not in response.content

    def test_it_answers_an_unknown_contact_with_the_page(self, sup_client):
        response = sup_client.get("/contacts/0123456789ABCDEF0123456789ABCDEF")
        assert response.status_code == 404
        assert b"Page not found" in response.content and NAVIGATION[0] in response.content

    def test_it_links_back_to_the_page_of_this_site_that_led_here(self, sup_client):
        response = sup_client.get("/no-such-page", HTTP_REFERER="http://testserver/contacts/?state=queued")
        assert b'<a href="http://testserver/contacts/?state=queued">Back to the previous page</a>' in response.content

    def test_it_offers_no_back_link_to_another_site(self, sup_client):
        response = sup_client.get("/no-such-page", HTTP_REFERER="https://elsewhere.example/")
        assert response.status_code == 404 and b"Back to the previous page" not in response.content


@pytest.mark.django_db
class ForbiddenPageTests:
    def test_it_tells_a_supervisor_on_an_admins_page_why_and_shows_the_navigation(self, sup_client):
        response = sup_client.get(ADMINS_ONLY)
        assert response.status_code == 403
        assert all(link in response.content for link in NAVIGATION)
        assert b"You can't open this page" in response.content
        assert b"Your account (sup) does not have the permission" in response.content
        assert DASHBOARD_LINK in response.content

    def test_it_answers_a_csrf_failure_with_the_page_saying_why(self, supervisor):
        client = Client(enforce_csrf_checks=True)
        client.force_login(supervisor)
        response = client.post("/accounts/logout/")
        assert response.status_code == 403
        assert b"The form was not accepted" in response.content and NAVIGATION[0] in response.content

    def test_it_offers_the_login_link_after_an_anonymous_csrf_failure(self):
        response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "a", "password": "b"})
        assert response.status_code == 403
        assert b"The form was not accepted" in response.content and LOGIN_LINK in response.content

    def test_it_leaves_the_apis_403_as_django_answers_it(self):
        request = RequestFactory().get("/ccp/rest/task/contact/x")
        response = failures.permission_denied(request, PermissionDenied())
        assert response.status_code == 403
        assert response.content == defaults.permission_denied(request, PermissionDenied()).content

    def test_it_leaves_the_apis_csrf_failure_as_django_answers_it(self):
        response = failures.csrf_failure(RequestFactory().post("/ccp/rest/task/feed/100"), "CSRF cookie not set.")
        assert response.status_code == 403 and b"CSRF verification failed" in response.content


@pytest.mark.django_db
class FaviconTests:
    def test_it_serves_an_icon_at_the_sites_root(self, client):
        response = client.get("/favicon.ico")
        assert response.status_code == 200 and response["Content-Type"].startswith("image/")
        assert b"".join(response.streaming_content).startswith(b"\x00\x00\x01\x00")  # an ICO file's header

    def test_the_pages_and_the_static_error_pages_link_it(self, client):
        link = b'<link rel="icon" href="/favicon.ico"'
        assert link in client.get("/accounts/login/").content
        assert link.decode() in loader.render_to_string("errors/500.html")


@pytest.mark.django_db
class RefusalLogTests:
    def test_it_logs_a_403_as_one_warning_line_without_a_traceback(self, sup_client, supervisor, caplog):
        with caplog.at_level(logging.INFO):
            sup_client.get(ADMINS_ONLY)
        (record,) = refusal_records(caplog)
        assert record.levelno == logging.WARNING and record.exc_info is None
        assert record.getMessage() == f"GET {ADMINS_ONLY} 403 user {supervisor.pk}: Forbidden (Permission denied)"
        assert "Traceback" not in caplog.text

    def test_it_logs_a_csrf_failure_as_one_warning_line(self, supervisor, caplog):
        client = Client(enforce_csrf_checks=True)
        client.force_login(supervisor)
        with caplog.at_level(logging.INFO):
            client.post("/accounts/logout/")
        (record,) = refusal_records(caplog)
        assert record.levelno == logging.WARNING
        expected = f"POST /accounts/logout/ 403 user {supervisor.pk}: Forbidden (CSRF cookie not set.)"
        assert record.getMessage() == expected

    def test_it_logs_an_unknown_host_as_one_warning_line_not_an_error_with_a_traceback(self, client, caplog):
        with caplog.at_level(logging.INFO):
            assert client.get("/", HTTP_HOST="elsewhere.example").status_code == 400
        (record,) = refusal_records(caplog)
        assert record.name == "django.security.DisallowedHost"
        assert record.levelno == logging.WARNING and record.exc_info is None
        assert record.getMessage().startswith("GET / 400 anonymous: Invalid HTTP_HOST header: 'elsewhere.example'.")
        assert "Traceback" not in caplog.text

    def test_it_logs_the_apis_404_and_400_answers_as_info(self, client, caplog):
        # The demo traffic provokes both on purpose: they must stay out of a console that shows warnings.
        with caplog.at_level(logging.INFO):
            client.get("/ccp/rest/task/contact/" + "0" * 32)
            client.post("/ccp/rest/task/feed/100", b"<Task>", content_type="application/xml")
        first, second = refusal_records(caplog)
        assert first.levelno == second.levelno == logging.INFO
        assert first.getMessage() == f"GET /ccp/rest/task/contact/{'0' * 32} 404 api client: Not Found"
        assert second.getMessage().startswith("POST /ccp/rest/task/feed/100 4")

    def test_it_logs_a_pages_404_and_a_405_as_info_lines(self, sup_client, supervisor, caplog):
        with caplog.at_level(logging.INFO):
            sup_client.get("/no-such-page")
            sup_client.get("/alerts/ack")
        not_found, not_allowed = refusal_records(caplog)
        assert not_found.levelno == not_allowed.levelno == logging.INFO
        assert not_found.getMessage() == f"GET /no-such-page 404 user {supervisor.pk}: Not Found"
        assert not_allowed.getMessage() == f"GET /alerts/ack 405 user {supervisor.pk}: Method Not Allowed (GET)"

    def test_it_keeps_a_newline_in_the_path_out_of_the_log(self, client, caplog):
        with caplog.at_level(logging.INFO):
            client.get("/no-such%0Apage")
        (record,) = refusal_records(caplog)
        assert "\n" not in record.getMessage() and "/no-such\\npage" in record.getMessage()

    def test_it_drops_an_info_refusal_when_the_logger_wants_warnings_only(self, client, caplog):
        # Django logs a 404 at WARNING; lowered to INFO it must obey LOG_LEVEL=WARNING like any other INFO line.
        with caplog.at_level(logging.WARNING, logger="django.request"):
            client.get("/no-such-page")
        assert refusal_records(caplog) == []

    def test_it_still_logs_a_500_as_an_error_with_its_traceback(self, client, caplog):
        with with_middleware("BrokenMiddleware"), caplog.at_level(logging.INFO):
            assert Client(raise_request_exception=False).get("/contacts/").status_code == 500
        (record,) = refusal_records(caplog)
        assert record.levelno == logging.ERROR and record.exc_info is not None
        assert "Traceback" in caplog.text and "ValueError: a bug, not an outage" in caplog.text


@pytest.fixture(scope="module")
def web_server(django_db_setup, tmp_path_factory) -> Iterator[ServerProcess]:
    server = start_web_server(tmp_path_factory.mktemp("web"), workers=1)
    yield server
    server.stop()


def served(server: ServerProcess, path: str, session: str = "") -> tuple[int, str, bytes]:
    """(status, Content-Type, body) of a GET through the real web server, signed in with `session` if given."""
    headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"} if session else {}
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


@pytest.mark.django_db(transaction=True)
class ServedTests:
    """Through the web server as it runs in production (ASGI, DEBUG off), its log read from its file."""

    def test_a_signed_in_supervisor_gets_both_pages_and_the_log_one_line_for_the_403(self, web_server, supervisor):
        client = Client()
        client.force_login(supervisor)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        status, _, body = served(web_server, "/no-such-page", session)
        assert status == 404 and b"Page not found" in body and NAVIGATION[0] in body
        status, _, body = served(web_server, ADMINS_ONLY, session)
        assert status == 403 and b"You can't open this page" in body and NAVIGATION[0] in body
        log = web_server.log_tail(200)
        assert f"WARNING django.request: GET {ADMINS_ONLY} 403 user {supervisor.pk}: Forbidden" in log
        assert "Traceback" not in log

    def test_an_anonymous_visitor_gets_the_404_page(self, web_server):
        status, _, body = served(web_server, "/no-such-page")
        assert status == 404 and LOGIN_LINK in body

    def test_it_serves_the_favicon(self, web_server):
        status, content_type, body = served(web_server, "/favicon.ico")
        assert status == 200 and content_type.startswith("image/") and body.startswith(b"\x00\x00\x01\x00")
