"""Throttling (README "Throttling"): failed logins lock a username and a client out (django-axes, counted in the
database), on the site's login and the admin's; the client's address, from X-Forwarded-For only when trusted; and
the API throttles' one count in Redis across the web server's processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import F, Sum
from django.test import Client, RequestFactory, override_settings

from ccpdash.throttling import client_address
from contacts.core.models import Feed, FeedType
from contacts.demo import servers
from tests.web import start_web_server

PASSWORD = "the-right-password-7"
LOGINS = {"site": ("/accounts/login/", "/"), "admin": ("/admin/login/", "/admin/")}


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("ada", password=PASSWORD, is_staff=True)


def log_in(client: Client, where: str, password: str, username: str = "ada", **extra: str):
    path, landing = LOGINS[where]
    return client.post(path, {"username": username, "password": password, "next": landing}, **extra)


def logged_in(response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.client.session


def cool_off_passes() -> None:
    """Age every counted failure by the cool-off, as if that long went by (fixture setup, not a login)."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME)


@pytest.mark.django_db
class LoginLockoutTests:
    @pytest.mark.parametrize("where", LOGINS)
    def test_it_locks_out_after_the_limit_of_100_wrong_passwords(self, client, user, where):
        answers = [log_in(client, where, f"guess-{n}").status_code for n in range(100)]
        limit = settings.AXES_FAILURE_LIMIT
        assert answers == [200] * (limit - 1) + [429] * (100 - limit + 1)

    @pytest.mark.parametrize("where", LOGINS)
    def test_it_refuses_the_right_password_while_locked_out(self, client, user, where):
        for n in range(settings.AXES_FAILURE_LIMIT):
            log_in(client, where, f"guess-{n}")
        response = log_in(client, where, PASSWORD)
        assert response.status_code == 429
        assert "_auth_user_id" not in client.session

    @pytest.mark.parametrize("where", LOGINS)
    def test_it_accepts_the_right_password_after_the_cool_off(self, client, user, where):
        for n in range(settings.AXES_FAILURE_LIMIT + 1):
            log_in(client, where, f"guess-{n}")
        cool_off_passes()
        assert logged_in(log_in(client, where, PASSWORD))

    def test_it_answers_the_lockout_page_with_retry_after(self, client, user):
        for n in range(settings.AXES_FAILURE_LIMIT):
            response = log_in(client, "site", f"guess-{n}")
        assert response.status_code == 429
        assert response["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
        assert {"registration/locked_out.html", "base.html"} <= {t.name for t in response.templates}
        page = response.content.decode()
        assert "<h1>Too many failed logins</h1>" in page and "Try again in 15 minutes" in page

    def test_it_locks_the_username_whichever_addresses_guess(self, client, user):
        for n in range(settings.AXES_FAILURE_LIMIT):
            log_in(client, "site", "guess", REMOTE_ADDR=f"203.0.113.{n}")
        assert log_in(client, "site", PASSWORD, REMOTE_ADDR="198.51.100.1").status_code == 429

    def test_it_locks_the_address_whichever_usernames_it_tries(self, client, user):
        for n in range(settings.AXES_FAILURE_LIMIT):
            log_in(client, "site", "guess", username=f"someone-{n}", REMOTE_ADDR="203.0.113.7")
        assert log_in(client, "site", PASSWORD, REMOTE_ADDR="203.0.113.7").status_code == 429
        assert logged_in(log_in(Client(), "site", PASSWORD, REMOTE_ADDR="198.51.100.1"))

    def test_it_keeps_the_count_in_the_database(self, client, user):
        for n in range(settings.AXES_FAILURE_LIMIT):
            log_in(client, "site", f"guess-{n}")
        counted = AccessAttempt.objects.aggregate(total=Sum("failures_since_start"))["total"]
        assert counted == settings.AXES_FAILURE_LIMIT
        # Another client (no cookie, no session) from the same address meets the same count.
        assert log_in(Client(), "site", PASSWORD).status_code == 429

    def test_a_success_does_not_reset_the_count(self, client, user):
        for n in range(settings.AXES_FAILURE_LIMIT - 1):
            log_in(client, "site", "guess", username=f"someone-{n}")
        assert logged_in(log_in(client, "site", PASSWORD))
        assert log_in(Client(), "site", "guess", username="one-more").status_code == 429

    def test_it_ignores_a_forged_forwarded_for_by_default(self, client, user):
        for n in range(settings.AXES_FAILURE_LIMIT):
            log_in(client, "site", "guess", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
        assert log_in(client, "site", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 429

    @override_settings(TRUST_X_FORWARDED_FOR=1)
    def test_behind_a_trusted_proxy_it_counts_the_address_the_proxy_saw(self, client, user):
        for n in range(settings.AXES_FAILURE_LIMIT):
            log_in(client, "site", "guess", username=f"someone-{n}", HTTP_X_FORWARDED_FOR="203.0.113.7")
        assert log_in(client, "site", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
        assert logged_in(log_in(Client(), "site", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.1"))


class ClientAddressTests:
    def address(self, forwarded_for: str | None = None, remote: str = "10.0.0.1") -> str | None:
        headers = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for is not None else {}
        return client_address(RequestFactory().get("/", REMOTE_ADDR=remote, **headers))

    def test_it_is_the_peer_address_by_default(self):
        assert self.address("203.0.113.7") == "10.0.0.1"

    @override_settings(TRUST_X_FORWARDED_FOR=1)
    def test_it_takes_what_the_one_trusted_proxy_appended(self):
        assert self.address("198.51.100.1, 203.0.113.7") == "203.0.113.7"

    @override_settings(TRUST_X_FORWARDED_FOR=2)
    def test_it_takes_what_the_outermost_of_two_proxies_saw(self):
        assert self.address("198.51.100.1, 203.0.113.7, 10.0.0.2") == "203.0.113.7"
        assert self.address("2001:db8::7, 10.0.0.2") == "2001:db8::7"

    @override_settings(TRUST_X_FORWARDED_FOR=2)
    def test_it_keeps_the_peer_address_when_the_request_skipped_a_proxy(self):
        assert self.address("203.0.113.7") == "10.0.0.1"
        assert self.address() == "10.0.0.1"

    @override_settings(TRUST_X_FORWARDED_FOR=1)
    def test_it_keeps_the_peer_address_for_an_entry_that_is_no_address(self):
        assert self.address("unknown") == "10.0.0.1"
        assert self.address("203.0.113.7:4711") == "10.0.0.1"


# The web server's own limits, small so that a few requests reach them.
SERVER_RATE_LIMIT = 20
SERVER_FAILURE_LIMIT = 3


@pytest.fixture(scope="module")
def throttled_web_port(django_db_setup, tmp_path_factory) -> Iterator[int]:
    """The web server with production's number of processes, the abuse guard on."""
    env = {"API_RATE_LIMIT_PER_MINUTE": str(SERVER_RATE_LIMIT), "AUTH_FAILURE_LIMIT": str(SERVER_FAILURE_LIMIT)}
    server = start_web_server(tmp_path_factory.mktemp("web"), env=env)
    yield server.port
    server.stop()
    print(f"--- web server (last lines) ---\n{server.log_tail()}")


def status_of(port: int, path: str, headers: str = "") -> str:
    """One request on a connection of its own, so the server's processes take turns as they accept."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n".encode()
    return asyncio.run(servers.first_line(port, request))


@pytest.mark.django_db(transaction=True)
class SharedCountTests:
    """Counted in one process's memory, each process would admit its own limit: more would get through."""

    def test_the_abuse_guard_admits_its_limit_across_all_processes(self, throttled_web_port):
        answers = [status_of(throttled_web_port, "/ccp/rest/task/contact/0") for _ in range(SERVER_RATE_LIMIT + 5)]
        assert answers == ["404"] * SERVER_RATE_LIMIT + ["429"] * 5

    def test_wrong_tokens_lock_the_client_out_of_every_process(self, throttled_web_port):
        Feed.objects.create(id=100, name="Web tasks", type=FeedType.TASK, api_token="s3cret-token")
        path, wrong = "/ccp/task/feed/100?name=a&title=b&scriptSelector=c", "Authorization: Bearer guess\r\n"
        answers = [status_of(throttled_web_port, path, wrong) for _ in range(SERVER_FAILURE_LIMIT + 3)]
        assert answers == ["401"] * (SERVER_FAILURE_LIMIT - 1) + ["429"] * 4
