"""Helpers for tests of the read API (and of anything that reads it, such as a schema fuzzer's harness)."""

from __future__ import annotations

from rest_framework.test import APIClient

from contacts.readapi.models import ApiToken
from tests.workflow_support import make_user


def new_token(role: str, username: str | None = None) -> str:
    """The plaintext of a new personal token of a new user of `role` ("supervisor", "admin" or "superuser")."""
    _, plaintext = ApiToken.create(make_user(role, username or f"{role}-api"), f"{role} token for tests")
    return plaintext


def header_client(authorization: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


def token_client(token: str) -> APIClient:
    return header_client(f"Bearer {token}")
