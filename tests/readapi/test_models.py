"""Personal API tokens at rest: only a prefix and a SHA-256 stored, found by the plaintext alone, revoked once; in
the Django admin an admin sees and revokes anybody's, and no token is made or shown there.
"""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from contacts.readapi.models import ApiToken
from tests.workflow_support import make_user


@pytest.mark.django_db
class TokenModelTests:
    def test_it_stores_only_a_prefix_and_the_sha256_of_the_token(self):
        token, plaintext = ApiToken.create(make_user("supervisor"), "wall board")
        row = ApiToken.objects.values().get(pk=token.pk)
        assert plaintext not in {str(value) for value in row.values()}
        assert row["key_hash"] == hashlib.sha256(plaintext.encode()).hexdigest()
        assert plaintext.startswith(f"ccpd_{row['prefix']}_")

    def test_it_finds_a_token_by_its_plaintext_only(self):
        token, plaintext = ApiToken.create(make_user("supervisor"), "wall board")
        assert ApiToken.find(plaintext) == token
        assert ApiToken.find(plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")) is None
        assert ApiToken.find(token.key_hash) is None

    def test_it_revokes_once(self):
        token, _ = ApiToken.create(make_user("supervisor"), "wall board")
        assert token.revoke() is True
        assert token.revoke() is False
        assert ApiToken.objects.get(pk=token.pk).revoked


@pytest.mark.django_db
class TokenAdminTests:
    def test_it_lets_an_admin_revoke_anybodys_token(self):
        token, plaintext = ApiToken.create(make_user("supervisor"), "wall board")
        admin = Client()
        admin.force_login(make_user("admin"))
        response = admin.post("/admin/contacts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
        assert response.status_code == 302
        assert ApiToken.objects.get(pk=token.pk).revoked
        assert ApiToken.find(plaintext).revoked

    def test_it_shows_no_add_form_and_never_the_token(self):
        token, plaintext = ApiToken.create(make_user("supervisor"), "wall board")
        client = Client()
        client.force_login(make_user("admin"))
        assert client.get("/admin/contacts/apitoken/add/").status_code == 403
        page = client.get(f"/admin/contacts/apitoken/{token.pk}/change/").content.decode()
        assert token.shown_prefix in page and plaintext not in page and token.key_hash not in page

    def test_it_shows_a_supervisor_no_tokens_in_the_admin(self):
        client = Client()
        client.force_login(make_user("supervisor"))
        assert client.get("/admin/contacts/apitoken/").status_code == 403
