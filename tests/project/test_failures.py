"""No database connection in time is a 503 with Retry-After, never a 500: in a view, in a middleware, API and pages.

The pool tests (PostgreSQL only: SQLite has no pool) give the default alias a pool of two connections
that waits 0.3 s, take both, and send the request from another thread, which needs a connection of its
own; the wait runs out for real inside psycopg_pool.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from xml.etree import ElementTree

import psycopg
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.db import connection, connections
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory, override_settings
from django.utils.functional import SimpleLazyObject
from psycopg_pool import ConnectionPool, PoolTimeout

from ccpdash import failures

TASK = b"<Task><name>Ada</name><title>Q</title><scriptSelector>Sales</scriptSelector></Task>"
A_SESSION = "0123456789abcdefghijklmnopqrstuv"  # any session key makes the session read the database


class ReadsTheUserMiddleware:
    """What a middleware that needs the user does (and session/auth do when forced): the session is read here."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.user.is_authenticated  # noqa: B018 - evaluating the lazy user loads the session
        return self.get_response(request)


class BrokenMiddleware:
    """A middleware with a bug: what it raises is no outage."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raise ValueError("a bug, not an outage")


def with_middleware(name: str) -> override_settings:
    return override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, f"tests.project.test_failures.{name}"])


@contextmanager
def small_pool(**sizes: float) -> Iterator[ConnectionPool]:
    """The default alias on a fresh pool of these sizes for the block; the default pool again after it.

    A connection the test thread already holds stays open (it came from the default pool); every new
    connection, in any thread of this process, comes from the small one.
    """
    options = connection.settings_dict["OPTIONS"]
    default = options["pool"]
    connection.close_pool()
    options["pool"] = {**default, **sizes}
    try:
        pool = connection.pool
        pool.open()
        yield pool
    finally:
        connection.close_pool()
        options["pool"] = default


@pytest.fixture
def exhausted_pool() -> Iterator[None]:
    """A pool of two connections that waits 0.3 s, both held by the test."""
    with small_pool(min_size=0, max_size=2, timeout=0.3) as pool:
        held = [pool.getconn() for _ in range(pool.max_size)]
        try:
            yield
        finally:
            for held_connection in held:
                pool.putconn(held_connection)


def in_another_thread(call: Callable[[], object]) -> object:
    """call() from a thread of its own (so with a database connection of its own), its result or its exception."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except BaseException as exc:  # handed back to the test
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def client_request(method: str, path: str, *, uncaught: bool = False, **extra) -> HttpResponse:
    """A request through Django's test client from another thread; the session cookie makes pages read it.

    Unless `uncaught`, an exception that reached handler500 is raised here: a view's outage must be
    answered by FailureMiddleware, as an answer and not as an error for error reporting.
    """

    def call() -> HttpResponse:
        client = Client(raise_request_exception=not uncaught)
        client.cookies[settings.SESSION_COOKIE_NAME] = A_SESSION
        return getattr(client, method)(path, **extra)

    return in_another_thread(call)


def asgi_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, dict, bytes]:
    """A request through Django's ASGI handler as Daphne makes it (async middleware chain): status, headers, body."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), *((k.lower().encode(), v.encode()) for k, v in headers.items())],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }  # fmt: skip
    answer: dict = {"body": b""}

    async def call() -> None:
        sent = asyncio.Event()

        async def receive() -> dict:
            if not sent.is_set():
                sent.set()
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["headers"] = {k.decode().lower(): v.decode() for k, v in message["headers"]}
            else:
                answer["body"] += message.get("body", b"")

        await ASGIHandler()(scope, receive, send)

    in_another_thread(async_to_sync(call))
    return answer["status"], answer["headers"], answer["body"]


def api_error(body: bytes) -> tuple[str, str]:
    error = ElementTree.fromstring(body).find("ApiError")
    return error.findtext("ErrorType"), error.findtext("ErrorData")


def assert_retry_after(response: HttpResponse) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == str(settings.RETRY_AFTER_SECONDS)
    assert "no-store" in response["Cache-Control"]


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.usefixtures("exhausted_pool")
class ExhaustedPoolTests:
    def test_it_answers_an_api_create_with_xml_api_errors(self):
        response = client_request("post", "/ccp/rest/task/feed/100", data=TASK, content_type="application/xml")
        assert_retry_after(response)
        assert response["Content-Type"].startswith("application/xml")
        assert api_error(response.content) == ("serviceUnavailable", "database")

    def test_it_answers_json_to_a_client_that_prefers_it(self):
        response = client_request("get", "/ccp/rest/task/contact/" + "a" * 32, HTTP_ACCEPT="application/json")
        assert_retry_after(response)
        (error,) = response.json()["apiErrors"]
        assert (error["errorType"], error["errorData"]) == ("serviceUnavailable", "database")

    def test_it_answers_the_sm_era_family_too(self):
        response = client_request("get", "/ccp/task/feed/100?name=Ada&title=Q&scriptSelector=Sales")
        assert_retry_after(response)
        assert api_error(response.content) == ("serviceUnavailable", "database")

    def test_it_answers_a_dashboard_page_with_the_static_page(self):
        response = client_request("get", "/contacts/")
        assert_retry_after(response)
        assert response["Content-Type"].startswith("text/html")
        assert b"ccpdash is busy" in response.content

    def test_it_answers_503_also_with_debug_on(self):
        with override_settings(DEBUG=True):
            response = client_request("get", "/")
        assert_retry_after(response)
        assert b"ccpdash is busy" in response.content

    def test_it_answers_503_when_the_wait_runs_out_in_a_middleware(self):
        with with_middleware("ReadsTheUserMiddleware"):
            page = client_request("get", "/accounts/login/", uncaught=True)
            api = client_request(
                "get", "/ccp/rest/task/contact/" + "a" * 32, uncaught=True, HTTP_ACCEPT="application/json"
            )
        assert_retry_after(page)
        assert b"ccpdash is busy" in page.content
        assert_retry_after(api)
        assert api.json()["apiErrors"][0]["errorType"] == "serviceUnavailable"

    def test_it_answers_503_in_a_middleware_under_asgi(self):
        with with_middleware("ReadsTheUserMiddleware"):
            status, headers, body = asgi_request(
                "GET", "/ccp/rest/task/contact/" + "a" * 32, {"Cookie": f"sessionid={A_SESSION}"}
            )
        assert (status, headers["retry-after"]) == (503, str(settings.RETRY_AFTER_SECONDS))
        assert api_error(body) == ("serviceUnavailable", "database")

    def test_it_answers_an_api_create_under_asgi(self):
        status, headers, body = asgi_request(
            "POST", "/ccp/rest/task/feed/100", {"Content-Type": "application/json", "Accept": "application/json"},
            json.dumps({"name": "Ada", "title": "Q", "scriptSelector": "Sales"}).encode(),
        )
        assert (status, headers["retry-after"]) == (503, str(settings.RETRY_AFTER_SECONDS))
        assert json.loads(body)["apiErrors"][0]["errorData"] == "database"

    def test_it_lets_cross_origin_clients_read_retry_after(self):
        response = client_request("get", "/ccp/rest/task/contact/" + "a" * 32, HTTP_ORIGIN="https://app.example")
        assert_retry_after(response)
        assert "Retry-After" in response["Access-Control-Expose-Headers"]

    def test_it_reports_the_database_failing_on_healthz(self):
        response = client_request("get", "/healthz")
        assert response.status_code == 503
        assert response.json() == {"status": "failing", "failed": ["database"]}


@pytest.mark.postgres
@pytest.mark.django_db
class FreePoolTests:
    def test_it_answers_as_usual_when_a_connection_is_free(self):
        # The same requests as above with the pool's connections free: the 503s came from the held ones.
        response = client_request("get", "/ccp/rest/task/contact/" + "a" * 32, HTTP_ACCEPT="application/json")
        assert response.status_code == 404
        assert client_request("get", "/healthz").json() == {"status": "ok", "failed": []}


class ServerErrorTests:
    """handler500 (no database access: these tests may not touch it)."""

    def test_it_answers_a_bug_in_a_middleware_with_the_static_500_page(self):
        with with_middleware("BrokenMiddleware"):
            response = Client(raise_request_exception=False).get("/contacts/")
        assert response.status_code == 500
        assert b"Server error" in response.content
        assert not response.has_header("Retry-After")

    def test_it_answers_an_api_client_with_api_errors_for_a_bug(self):
        with with_middleware("BrokenMiddleware"):
            response = Client(raise_request_exception=False).get("/ccp/rest/task/contact/x")
        assert response.status_code == 500
        assert api_error(response.content) == ("internalError", "server")


def page_request() -> HttpRequest:
    """A page request whose user and session would fail if anything read them."""
    request = RequestFactory().get("/contacts/", HTTP_COOKIE=f"sessionid={A_SESSION}")

    def unreadable() -> None:
        raise AssertionError("the static page read the user or the session")

    request.user = SimpleLazyObject(unreadable)
    request.session = SimpleLazyObject(unreadable)
    return request


class StaticPageTests:
    """Without the django_db mark any database access fails: the pages must render with no database at all."""

    def test_it_renders_the_503_page_with_no_database_user_or_session(self):
        response = failures.unavailable(page_request(), "database")
        assert_retry_after(response)
        assert f"try again in {settings.RETRY_AFTER_SECONDS} seconds".encode() in response.content
        assert b"/static/css/base.css" in response.content

    def test_it_renders_the_500_page_with_no_database_user_or_session(self):
        response = failures.server_error(page_request())
        assert response.status_code == 500
        assert b"Server error" in response.content


def connection_refused() -> psycopg.OperationalError:
    try:
        psycopg.connect(host="127.0.0.1", port=1, connect_timeout=2)
    except psycopg.OperationalError as exc:
        return exc
    raise AssertionError("something listens on port 1")


def wrapped(cause: BaseException) -> Exception:
    """As Django raises a driver error: django.db.utils.OperationalError, the driver's error as its cause."""
    from django.db.utils import OperationalError

    error = OperationalError(str(cause))
    error.__cause__ = cause
    return error


class FailedServiceTests:
    def test_it_calls_a_pool_timeout_a_database_outage(self):
        assert failures.failed_service(wrapped(PoolTimeout("couldn't get a connection after 5.00 sec"))) == "database"

    def test_it_calls_a_refused_connection_a_database_outage(self):
        assert failures.failed_service(wrapped(connection_refused())) == "database"

    def test_it_calls_too_many_connections_and_a_shutdown_outages(self):
        assert failures.failed_service(wrapped(psycopg.errors.TooManyConnections())) == "database"
        assert failures.failed_service(wrapped(psycopg.errors.AdminShutdown())) == "database"

    def test_it_leaves_a_deadlock_or_a_cancelled_statement_to_the_500(self):
        assert failures.failed_service(wrapped(psycopg.errors.DeadlockDetected())) is None
        assert failures.failed_service(wrapped(psycopg.errors.QueryCanceled())) is None

    def test_it_leaves_other_errors_to_the_500(self):
        assert failures.failed_service(ValueError("bug")) is None
        assert failures.failed_service(None) is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class KilledConnectionTests:
    """A request whose PostgreSQL backend is terminated while it runs (a failover, an admin's
    pg_terminate_backend): the API client gets `<ApiErrors>` 503 with Retry-After, nothing half-written."""

    def test_an_api_create_whose_connection_is_killed_mid_request_answers_503(self, monkeypatch):
        from contacts.core import lifecycle
        from contacts.core.models import Contact, Feed, FeedType

        Feed.objects.create(id=100, name="Web tasks", type=FeedType.TASK)
        create = lifecycle.create

        def killed_first(*args, **kwargs):
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid = cursor.fetchone()[0]
            with psycopg.connect(dbname=connection.settings_dict["NAME"], host="127.0.0.1",
                                 user=connection.settings_dict["USER"] or "postgres", autocommit=True) as other:
                other.execute("SELECT pg_terminate_backend(%s)", [pid])
            return create(*args, **kwargs)

        monkeypatch.setattr(lifecycle, "create", killed_first)
        response = Client().post("/ccp/rest/task/feed/100", TASK, content_type="application/xml")
        assert response.status_code == 503
        assert response["Retry-After"] == str(settings.RETRY_AFTER_SECONDS)
        assert ElementTree.fromstring(response.content).findtext(".//ErrorType") == failures.UNAVAILABLE
        monkeypatch.setattr(lifecycle, "create", create)
        connections.close_all()
        assert not Contact.objects.exists()
