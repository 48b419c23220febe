"""Personal API tokens in use: the last use recorded, revoked and deactivated users' tokens refused, the user's
permissions of the moment; and wrong tokens counted with the failed logins of their address (django-axes).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import F
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from contacts.readapi.models import ApiToken
from tests.readapi.support import header_client, token_client
from tests.workflow_support import make_user

QUEUES = "/api/v1/queues"


def wrong_token(n: int = 0) -> str:
    return f"ccpd_0000000{n % 10}_{'x' * 43}"


def log_in(client: Client, password: str, username: str = "supervisor"):
    return client.post("/accounts/login/", {"username": username, "password": password, "next": "/"})


@pytest.mark.django_db
class TokenUseTests:
    def test_it_records_the_last_use(self):
        token, plaintext = ApiToken.create(make_user("supervisor"), "wall board")
        token_client(plaintext).get(QUEUES)
        assert ApiToken.objects.get(pk=token.pk).last_used_at is not None

    def test_it_records_the_last_use_at_most_once_a_minute(self):
        token, plaintext = ApiToken.create(make_user("supervisor"), "wall board")
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timedelta(seconds=30))
        before = ApiToken.objects.get(pk=token.pk).last_used_at
        token_client(plaintext).get(QUEUES)
        assert ApiToken.objects.get(pk=token.pk).last_used_at == before

    def test_it_refuses_a_revoked_token(self):
        token, plaintext = ApiToken.create(make_user("supervisor"), "wall board")
        token.revoke()
        response = token_client(plaintext).get(QUEUES)
        assert response.status_code == 401 and response.json()["detail"]

    def test_it_refuses_the_token_of_a_deactivated_user(self):
        user = make_user("supervisor")
        _, plaintext = ApiToken.create(user, "wall board")
        user.is_active = False
        user.save()
        assert token_client(plaintext).get(QUEUES).status_code == 401

    def test_it_acts_with_the_users_permissions_of_now(self):
        user = make_user("admin")
        _, plaintext = ApiToken.create(user, "script")
        assert token_client(plaintext).get("/api/v1/audit").status_code == 200
        user.groups.clear()
        assert token_client(plaintext).get("/api/v1/audit").status_code == 403


@pytest.mark.django_db
class WrongTokenTests:
    def test_it_answers_a_wrong_token_401_with_a_bearer_challenge(self):
        response = token_client(wrong_token()).get(QUEUES)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert response.json() == {"detail": "Invalid token."}

    @pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer not-a-token", "bearer ccpd_x"])
    def test_it_counts_a_malformed_token_as_wrong(self, header):
        response = header_client(header).get(QUEUES)
        assert response.status_code == 401
        assert AccessAttempt.objects.get().failures_since_start == 1

    def test_it_counts_a_wrong_token_against_the_address_only(self):
        token_client(wrong_token()).get(QUEUES)
        attempt = AccessAttempt.objects.get()
        assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == (None, "127.0.0.1", 1)

    def test_it_locks_the_address_out_at_the_limit_and_refuses_the_right_token_then(self):
        _, plaintext = ApiToken.create(make_user("supervisor"), "script")
        limit = settings.AXES_FAILURE_LIMIT
        answers = [token_client(wrong_token(n)).get(QUEUES).status_code for n in range(limit)]
        assert answers == [401] * (limit - 1) + [429]
        response = token_client(plaintext).get(QUEUES)
        assert response.status_code == 429
        assert response["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
        assert response["Content-Type"] == "application/json" and response.json()["detail"]

    def test_it_does_not_count_the_tries_during_a_lockout(self):
        for n in range(settings.AXES_FAILURE_LIMIT + 5):
            token_client(wrong_token(n)).get(QUEUES)
        assert AccessAttempt.objects.get().failures_since_start == settings.AXES_FAILURE_LIMIT

    def test_it_hears_the_token_again_after_the_cool_off(self):
        _, plaintext = ApiToken.create(make_user("supervisor"), "script")
        for n in range(settings.AXES_FAILURE_LIMIT):
            token_client(wrong_token(n)).get(QUEUES)
        AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME)
        assert token_client(plaintext).get(QUEUES).status_code == 200

    def test_it_locks_tokens_out_after_wrong_passwords_from_the_address(self):
        _, plaintext = ApiToken.create(make_user("supervisor"), "script")
        for n in range(settings.AXES_FAILURE_LIMIT):
            log_in(Client(), f"guess-{n}")
        assert token_client(plaintext).get(QUEUES).status_code == 429

    def test_it_locks_logins_out_after_wrong_tokens_from_the_address(self):
        make_user("supervisor")
        for n in range(settings.AXES_FAILURE_LIMIT):
            token_client(wrong_token(n)).get(QUEUES)
        assert log_in(Client(), "pw").status_code == 429

    def test_it_keeps_other_addresses_and_usernames_unlocked(self):
        user = make_user("supervisor")
        _, plaintext = ApiToken.create(user, "script")
        for n in range(settings.AXES_FAILURE_LIMIT):
            token_client(wrong_token(n)).get(QUEUES)
        assert token_client(plaintext).get(QUEUES, REMOTE_ADDR="10.0.0.2").status_code == 200
        assert log_in(Client(REMOTE_ADDR="10.0.0.2"), "pw").status_code == 302

    def test_it_does_not_count_a_revoked_token(self):
        token, plaintext = ApiToken.create(make_user("supervisor"), "script")
        token.revoke()
        for _ in range(settings.AXES_FAILURE_LIMIT + 1):
            assert token_client(plaintext).get(QUEUES).status_code == 401
        assert not AccessAttempt.objects.exists()

    def test_it_does_not_count_a_request_without_a_token(self):
        assert APIClient().get(QUEUES).status_code == 401
        assert not AccessAttempt.objects.exists()
