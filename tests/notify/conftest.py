"""Fixtures of the notification tests: the demo configuration, a local webhook receiver, a channel and a rule."""

from __future__ import annotations

import pytest

from contacts.core import permissions as roles
from contacts.demo import seed as demo
from contacts.notify.models import ChannelKind, NotificationChannel, NotificationRule, RuleKind
from contacts.notify.receiver import Receiver


@pytest.fixture(autouse=True)
def demo_config(db):
    roles.ensure_role_groups()
    demo.seed_feeds()
    demo.seed_cce()


@pytest.fixture
def receiver():
    """A receiver on a free local port that knows the channel fixture's secret; stopped after the test."""
    server = Receiver(secret="whsec_test").start()
    yield server
    server.stop()


@pytest.fixture
def channel(receiver) -> NotificationChannel:
    return NotificationChannel.objects.create(name="Ops hook", kind=ChannelKind.WEBHOOK, url=receiver.url,
                                              secret="whsec_test")


@pytest.fixture
def rule(channel) -> NotificationRule:
    made = NotificationRule.objects.create(name="Discard bursts", kind=RuleKind.DISCARDS, threshold=1)
    made.channels.add(channel)
    return made
