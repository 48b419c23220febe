"""Fixtures of the fuzz suite: the demo world (feeds, the mock CCE, the demo users), contacts in every position,
signed-in clients, and `fresh()`, which runs one input in a savepoint that is rolled back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client

from contacts.core import lifecycle
from contacts.core.lifecycle import Kind, Reason, Source
from contacts.core.models import Contact, Feed, FeedType
from contacts.demo import seed
from contacts.workflows import actions
from tests.conftest import forget_throttle_counts

TOKEN = "s3cret-fuzz-token"
TOKEN_FEED, DISABLED_FEED = 300, 400

# Every position a contact can be in, and the moves (from the lifecycle table) that lead there from unread.
QUEUED_ROUTED = ("queued", Reason.EXTERNALLY_ROUTED)
POSITIONS = {
    Kind.TASK: {
        "unread": [],
        "queued": [QUEUED_ROUTED],
        "reserved": [QUEUED_ROUTED, ("reserved", Reason.EXTERNALLY_ROUTED)],
        "handled": [QUEUED_ROUTED, ("reserved", Reason.EXTERNALLY_ROUTED), ("handled", Reason.EXTERNALLY_HANDLED)],
        "discarded": [("discarded", Reason.NO_SCRIPT)],
        "renotifying": [("discarded", Reason.NO_SCRIPT), lifecycle.TASK_RENOTIFYING],
        "cancelling": [lifecycle.TASK_CANCELLING],
        "cancelled": [lifecycle.TASK_CANCELLING, ("discarded", Reason.TASK_CANCEL_SUCCEEDED)],
    },
    Kind.CALLBACK: {
        "unread": [],
        "queued": [("queued", Reason.EXTERNALLY_HANDLED)],
        "handled": [("queued", Reason.EXTERNALLY_HANDLED), ("handled", Reason.EXTERNALLY_HANDLED)],
        "discarded": [("discarded", Reason.INVALID_MRD_ID)],
        "cancelling": [lifecycle.CB_CANCELLING],
        "cancelled": [lifecycle.CB_CANCELLING, ("discarded", Reason.CALLBACK_CANCEL_SUCCEEDED)],
    },
}


@pytest.fixture(autouse=True)
def no_abuse_guard(settings) -> None:
    """The abuse guard off (its default), whatever the environment says: no input's answer turns into a 429."""
    settings.API_RATE_LIMIT_PER_MINUTE = 0


@pytest.fixture
def world(db) -> None:
    """The demo configuration (feeds 100, 200 and 201, the mock CCE, the demo users), a feed with a token and a
    disabled one."""
    seed.seed_users()
    seed.seed_feeds()
    seed.seed_cce()
    Feed.objects.create(id=TOKEN_FEED, name="Tasks with a token", type=FeedType.TASK, api_token=TOKEN)
    Feed.objects.create(id=DISABLED_FEED, name="Disabled tasks", type=FeedType.TASK, enabled=False)


def place(kind: str, position: str, feed_id: int | None = None, **fields) -> Contact:
    """A contact moved through the lifecycle to `position`; a cancel is requested through the API, so its status
    URL answers 404 once the cancel succeeded."""
    feed = Feed.objects.get(pk=feed_id or (100 if kind == Kind.TASK else 200))
    defaults = {"name": "Ada", "title": "Order 4711", "script_selector": "Sales"} if kind == Kind.TASK else \
        {"name": "Grace", "media_address": "+15551234567"}
    contact = lifecycle.create(kind, feed, **{**defaults, **fields})
    for state, reason in POSITIONS[kind][position]:
        if reason in lifecycle.CANCEL_REQUESTED:
            actions.request_cancel(contact, source=Source.API)
        else:
            lifecycle.transition(contact, state, reason, source=Source.CCE)
    contact.refresh_from_db()
    return contact


@pytest.fixture
def positioned(world) -> dict[tuple[str, str], Contact]:
    """One contact of each kind in each position (keyed by (kind, position)), and one task of the token feed."""
    contacts = {(kind, position): place(kind, position) for kind, positions in POSITIONS.items()
                for position in positions}
    contacts[("task", "token")] = place(Kind.TASK, "unread", TOKEN_FEED)
    return contacts


@contextmanager
def fresh(*, throttles: bool = False) -> Iterator[None]:
    """One input, in a savepoint rolled back at its end, so no input sees what another stored or moved.

    With `throttles`, the wrong-token counts are forgotten first: the inputs of one test share a client address,
    and the tenth wrong token of a test would otherwise lock the rest out (README "Throttling").
    """
    if throttles:
        forget_throttle_counts()
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def signed_in(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


@pytest.fixture
def supervisor(world) -> Client:
    return signed_in("supervisor")


@pytest.fixture
def admin(world) -> Client:
    return signed_in("admin")
