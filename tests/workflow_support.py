"""Helpers for the workflow tests: users in each role, the demo configuration, discarded contacts."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from contacts.core import lifecycle
from contacts.core import permissions as roles
from contacts.core.lifecycle import Kind, Reason, Source, State
from contacts.core.models import Contact, Feed
from contacts.demo import seed as demo

ROLES = ("supervisor", "admin", "superuser")
MISSING = Reason.INVALID_SCRIPT_SELECTOR


def make_user(role: str, username: str | None = None):
    """A user of `role`: supervisor and admin are in their groups (and staff, so the Django admin's own
    permission checks are what is tested), superuser is a superuser."""
    roles.ensure_role_groups()
    user = get_user_model().objects.create_user(username or role, password="pw", is_staff=True)
    if role == "superuser":
        user.is_superuser = True
        user.save()
    else:
        user.groups.add(Group.objects.get(name={"supervisor": roles.SUPERVISORS, "admin": roles.ADMINS}[role]))
    return user


def client_for(role: str | None) -> Client:
    client = Client()
    if role:
        client.force_login(make_user(role))
    return client


def seed() -> None:
    """The demo feeds (100 tasks; 200 callbacks routed by CallbackDN) and the demo mock CCE."""
    demo.seed_feeds()
    demo.seed_cce()


def task(selector: str = "Missing", name: str = "Ada", **fields) -> Contact:
    feed, _ = Feed.objects.get_or_create(id=100, defaults={"name": "tasks", "type": 12})
    return lifecycle.create(Kind.TASK, feed, name=name, title="Order 4711", script_selector=selector, **fields)


def callback(name: str = "Bob", feed_id: int = 200, **fields) -> Contact:
    feed, _ = Feed.objects.get_or_create(id=feed_id, defaults={"name": "callbacks", "type": 10})
    return lifecycle.create(Kind.CALLBACK, feed, name=name, title="Call me", media_address="+4930123", **fields)


def discard(contact: Contact, reason: str = MISSING) -> Contact:
    """C4/T5 as the CCE would (no worker needed)."""
    lifecycle.transition(contact, State.DISCARDED, reason, source=Source.CCE)
    return contact


def pair(contact: Contact) -> tuple[str, str]:
    return tuple(Contact.objects.filter(pk=contact.pk).values_list("state", "reason").get())
