"""The CCP API's throttles (contacts.api.throttle): wrong feed tokens lock a client out, and the abuse guard.

Both count in the run's Redis (REDIS_URL); tests/conftest.py forgets the counts before each test. That every process
sees one count is proven against the two-process web server in tests/project/test_throttling.py.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client, override_settings

from contacts.core.models import Contact, Feed
from tests.api.support import create, xml_errors
from tests.polling import wait_for

TOKEN = "s3cret-token"
UNKNOWN_CONTACT = "/ccp/rest/task/contact/0"
NO_REDIS = "redis://127.0.0.1:1/0"


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def protected(feeds) -> Feed:
    Feed.objects.filter(pk=100).update(api_token=TOKEN)
    return Feed.objects.get(pk=100)


def lock_out(client: Client, **extra: str) -> None:
    """Send wrong tokens until the client is locked out; the last one already answers 429."""
    limit = settings.AXES_FAILURE_LIMIT
    answers = [create(client, **bearer(f"guess-{n}"), **extra).status_code for n in range(limit)]
    assert answers == [401] * (limit - 1) + [429]


@pytest.mark.django_db
class WrongTokenTests:
    def test_it_answers_429_with_retry_after_once_the_limit_is_reached(self, client, protected):
        lock_out(client)
        response = create(client, **bearer("one-more-guess"))
        assert response.status_code == 429
        assert xml_errors(response) == [("tooManyRequests", "Authorization")]
        assert 0 < int(response["Retry-After"]) <= settings.AXES_COOLOFF_TIME.total_seconds()

    def test_it_refuses_the_right_token_while_locked_out(self, client, protected):
        lock_out(client)
        response = create(client, **bearer(TOKEN))
        assert response.status_code == 429
        assert not Contact.objects.exists()

    def test_it_answers_in_json_when_the_client_prefers_it(self, client, protected):
        lock_out(client)
        response = create(client, **bearer(TOKEN), HTTP_ACCEPT="application/json")
        assert response.status_code == 429
        assert json.loads(response.content)["apiErrors"][0]["errorType"] == "tooManyRequests"

    def test_it_hears_the_right_token_again_after_the_cool_off(self, client, protected):
        with override_settings(AXES_COOLOFF_TIME=timedelta(seconds=1)):
            lock_out(client)
            assert create(client, **bearer(TOKEN)).status_code == 429
            wait_for(lambda: create(client, **bearer(TOKEN)).status_code == 201, timeout=10, what="the cool-off")

    def test_it_does_not_extend_the_lockout_for_tries_during_it(self, client, protected):
        with override_settings(AXES_COOLOFF_TIME=timedelta(seconds=1)):
            lock_out(client)
            # A CCP client retries without pause: were its tries counted, it would never get back in.
            wait_for(lambda: create(client, **bearer(TOKEN)).status_code == 201, timeout=10, interval=0.01,
                     what="the cool-off despite the retries")

    def test_it_locks_out_only_the_client_that_guessed(self, client, protected):
        lock_out(client, REMOTE_ADDR="203.0.113.7")
        assert create(client, **bearer(TOKEN), REMOTE_ADDR="203.0.113.7").status_code == 429
        assert create(client, **bearer(TOKEN), REMOTE_ADDR="203.0.113.8").status_code == 201

    def test_it_counts_wrong_tokens_across_feeds(self, client, protected, feeds):
        Feed.objects.filter(pk=200).update(api_token="another-token")
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            assert create(client, **bearer("guess")).status_code == 401
        assert create(client, "callback", **bearer("guess")).status_code == 429

    def test_it_does_not_count_a_missing_token(self, client, protected):
        for _ in range(settings.AXES_FAILURE_LIMIT * 2):
            assert create(client).status_code == 401
        assert create(client, **bearer(TOKEN)).status_code == 201

    def test_it_goes_on_unthrottled_and_logs_while_redis_is_down(self, client, protected, caplog):
        create(client, **bearer(TOKEN))  # Redis answers: what follows is a new outage, which is logged
        with override_settings(REDIS_URL=NO_REDIS), caplog.at_level(logging.WARNING, "contacts.api.throttle"):
            for _ in range(settings.AXES_FAILURE_LIMIT + 1):
                assert create(client, **bearer("guess")).status_code == 401
            assert create(client, **bearer(TOKEN)).status_code == 201
        assert "Redis is unavailable" in caplog.text


@pytest.mark.django_db
class AbuseGuardTests:
    def test_it_is_off_by_default(self, client):
        assert settings.API_RATE_LIMIT_PER_MINUTE == 0
        assert {client.get(UNKNOWN_CONTACT).status_code for _ in range(300)} == {404}

    @override_settings(API_RATE_LIMIT_PER_MINUTE=5)
    def test_it_answers_429_with_retry_after_over_the_rate(self, client):
        assert [client.get(UNKNOWN_CONTACT).status_code for _ in range(5)] == [404] * 5
        response = client.get(UNKNOWN_CONTACT)
        assert response.status_code == 429
        assert xml_errors(response) == [("tooManyRequests", "client")]
        # One request every 60/5 seconds after the burst.
        assert 1 <= int(response["Retry-After"]) <= 12

    @override_settings(API_RATE_LIMIT_PER_MINUTE=5)
    def test_it_answers_in_json_when_the_client_prefers_it(self, client):
        for _ in range(5):
            client.get(UNKNOWN_CONTACT)
        response = client.get(UNKNOWN_CONTACT, HTTP_ACCEPT="application/json")
        assert response.status_code == 429
        message = f"more than 5 requests a minute from this client; retry after {response['Retry-After']} seconds"
        assert json.loads(response.content) == {
            "apiErrors": [{"errorType": "tooManyRequests", "errorData": "client", "errorMessage": message}]
        }

    @override_settings(API_RATE_LIMIT_PER_MINUTE=2)
    def test_it_refuses_a_create_over_the_rate_without_storing_it(self, client, feeds):
        assert [create(client).status_code for _ in range(3)] == [201, 201, 429]
        assert Contact.objects.count() == 2

    @override_settings(API_RATE_LIMIT_PER_MINUTE=2)
    def test_it_counts_each_client_apart(self, client):
        for _ in range(3):
            client.get(UNKNOWN_CONTACT, REMOTE_ADDR="203.0.113.7")
        assert client.get(UNKNOWN_CONTACT, REMOTE_ADDR="203.0.113.7").status_code == 429
        assert client.get(UNKNOWN_CONTACT, REMOTE_ADDR="203.0.113.8").status_code == 404

    @override_settings(API_RATE_LIMIT_PER_MINUTE=2)
    def test_it_guards_only_the_api(self, client):
        for _ in range(3):
            client.get(UNKNOWN_CONTACT)
        assert client.get(UNKNOWN_CONTACT).status_code == 429
        assert client.get("/accounts/login/").status_code == 200
        assert client.get("/try/").status_code == 200

    @override_settings(API_RATE_LIMIT_PER_MINUTE=2)
    def test_a_browser_client_can_read_its_retry_after(self, client):
        for _ in range(3):
            client.get(UNKNOWN_CONTACT, HTTP_ORIGIN="https://crm.example.com")
        response = client.get(UNKNOWN_CONTACT, HTTP_ORIGIN="https://crm.example.com")
        assert response.status_code == 429
        assert response["Access-Control-Allow-Origin"] in {"*", "https://crm.example.com"}
        assert "Retry-After" in response["Access-Control-Expose-Headers"]

    @override_settings(API_RATE_LIMIT_PER_MINUTE=2)
    def test_it_lets_requests_through_while_redis_is_down(self, client, caplog):
        client.get(UNKNOWN_CONTACT)  # Redis answers: what follows is a new outage, which is logged
        with override_settings(REDIS_URL=NO_REDIS), caplog.at_level(logging.WARNING, "contacts.api.throttle"):
            assert {client.get(UNKNOWN_CONTACT).status_code for _ in range(5)} == {404}
        assert caplog.text.count("Redis is unavailable") == 1
