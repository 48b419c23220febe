"""Fixtures of the read API tests: API clients sending a new token of a new user of each role."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.readapi.support import new_token, token_client


@pytest.fixture
def api_for(db):
    """api_for("supervisor") → an APIClient sending a new token of a new user of that role (None: no token)."""

    def make(role: str | None) -> APIClient:
        return token_client(new_token(role)) if role else APIClient()

    return make
