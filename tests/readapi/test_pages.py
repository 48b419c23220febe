"""The token page (/account/tokens): a new token shown once, the user's own tokens listed by prefix, revoked by
their user only; linked from every page's navigation.
"""

from __future__ import annotations

import pytest
from django.test import Client

from contacts.readapi.models import ApiToken
from tests.readapi.support import token_client
from tests.workflow_support import make_user


@pytest.mark.django_db
class TokenPageTests:
    def signed_in(self, role: str = "supervisor") -> Client:
        client = Client()
        client.force_login(make_user(role))
        return client

    def test_it_sends_anonymous_visitors_to_the_login_form(self, client):
        assert client.get("/account/tokens")["Location"] == "/accounts/login/?next=/account/tokens"

    def test_it_shows_a_new_token_once(self):
        client = self.signed_in()
        response = client.post("/account/tokens", {"name": "wall board script"})
        assert response.status_code == 201
        assert "no-store" in response["Cache-Control"]
        token = ApiToken.objects.get()
        plaintext = response.context["created"]["plaintext"]
        assert ApiToken.find(plaintext) == token and plaintext in response.content.decode()
        again = client.get("/account/tokens").content.decode()
        assert plaintext not in again and token.shown_prefix in again and "wall board script" in again

    def test_it_makes_a_token_that_reads_the_queues(self):
        response = self.signed_in().post("/account/tokens", {"name": "script"})
        assert token_client(response.context["created"]["plaintext"]).get("/api/v1/queues").status_code == 200

    def test_it_refuses_a_token_without_a_name(self):
        response = self.signed_in().post("/account/tokens", {"name": ""})
        assert response.status_code == 200 and not ApiToken.objects.exists()

    def test_it_lists_only_the_users_own_tokens(self):
        ApiToken.create(make_user("admin"), "the admin's")
        body = self.signed_in().get("/account/tokens").content.decode()
        assert "the admin&#x27;s" not in body and "No token yet." in body

    def test_it_revokes_the_users_own_token(self):
        client = self.signed_in()
        client.post("/account/tokens", {"name": "script"})
        token = ApiToken.objects.get()
        response = client.post(f"/account/tokens/{token.pk}/revoke")
        assert response.status_code == 302
        assert ApiToken.objects.get().revoked

    def test_it_does_not_revoke_another_users_token(self):
        token, _ = ApiToken.create(make_user("admin"), "the admin's")
        assert self.signed_in().post(f"/account/tokens/{token.pk}/revoke").status_code == 404
        assert not ApiToken.objects.get().revoked

    def test_it_links_the_page_from_every_pages_navigation(self):
        assert b'href="/account/tokens"' in self.signed_in().get("/contacts/").content
