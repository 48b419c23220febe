"""Fixtures of the CCP-compatible API's tests: a task feed (100) and a callback feed (200)."""

from __future__ import annotations

import pytest

from contacts.core.models import Feed, FeedType


@pytest.fixture
def feeds(db) -> dict[str, Feed]:
    return {
        "task": Feed.objects.create(id=100, name="Web tasks", type=FeedType.TASK),
        "callback": Feed.objects.create(id=200, name="Callbacks", type=FeedType.CALLBACK),
    }
