"""Fixtures of the alert tests: the demo configuration (autouse, every test here) and a logged-in supervisor."""

from __future__ import annotations

import pytest

from contacts.core import permissions as roles
from contacts.demo import seed as demo
from tests.alerts.support import make_user


@pytest.fixture(autouse=True)
def demo_config(db):
    roles.ensure_role_groups()
    demo.seed_feeds()
    demo.seed_cce()


@pytest.fixture
def supervisor(django_user_model):
    return make_user(django_user_model, "sup", roles.SUPERVISORS)


@pytest.fixture
def sup_client(client, supervisor):
    client.force_login(supervisor)
    return client
