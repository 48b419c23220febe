"""The home page's login gate and the health check."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import override_settings

from contacts.core import permissions as roles


@pytest.mark.django_db
class HomeTests:
    def test_it_sends_anonymous_visitors_to_the_login_form(self, client):
        response = client.get("/")
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/?next=/"

    def test_it_shows_the_login_form_with_standard_fields(self, client):
        body = client.get("/accounts/login/?next=/").content.decode()
        assert 'name="username"' in body and 'name="password"' in body

    def test_it_shows_the_page_to_a_supervisor(self, client, django_user_model):
        roles.ensure_role_groups()
        user = django_user_model.objects.create_user("sup")
        user.groups.add(Group.objects.get(name=roles.SUPERVISORS))
        client.force_login(user)
        assert client.get("/").status_code == 200


@pytest.mark.django_db
class HealthTests:
    def test_it_answers_200_when_everything_is_reachable(self, client):
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "failed": []}

    @override_settings(REDIS_URL="redis://127.0.0.1:1/0")
    def test_it_answers_503_naming_redis_when_redis_is_down(self, client):
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["failed"] == ["redis"]
