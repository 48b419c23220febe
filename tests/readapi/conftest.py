"""Fixtures of the read API tests: users in each role with a personal token, and API clients sending it."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from contacts.readapi.models import ApiToken
from tests.workflow_support import make_user


def header_client(authorization: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


def token_client(token: str) -> APIClient:
    return header_client(f"Bearer {token}")


@pytest.fixture
def api_for(db):
    """api_for("supervisor") → an APIClient sending a new token of a new user of that role (None: no token)."""

    def make(role: str | None) -> APIClient:
        if role is None:
            return APIClient()
        _, token = ApiToken.create(make_user(role, f"{role}-api"), "tests")
        return token_client(token)

    return make
