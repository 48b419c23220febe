"""Plain helpers shared by the alert tests: contacts, discards, users, queues, reading the feed, acknowledging."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Group
from django.utils import timezone

from contacts.core import lifecycle
from contacts.core.lifecycle import Kind, Reason, Source
from contacts.core.models import Contact, Feed, Transition

FEED_OF = {Kind.TASK: 100, Kind.CALLBACK: 200}


def make_contact(kind: str = Kind.TASK, selector: str = "NoScript", feed_id: int | None = None, **fields) -> Contact:
    feed = Feed.objects.get(id=feed_id or FEED_OF[kind])
    extra = {"script_selector": selector} if kind == Kind.TASK else {"media_address": "+15551234567"}
    return lifecycle.create(kind, feed, name=fields.pop("name", "Ada"), title="Order 4711", **extra, **fields)


def discard(contact: Contact, reason: str, mrd: int | None = 5000, selector: str | None = None) -> Transition:
    """The move the CCE makes, with the MRD and selector it used recorded on the contact."""
    used = selector if selector is not None else contact.script_selector
    changes = {"cce_mrd_id": mrd, "cce_script_selector": used}
    return lifecycle.transition(contact, "discarded", reason, source=Source.CCE, changes=changes)


def discards(count: int, reason: str = Reason.NO_SCRIPT, selector: str = "NoScript") -> list[Transition]:
    return [discard(make_contact(selector=selector, name=f"c{i}"), reason) for i in range(count)]


def make_user(django_user_model, username: str, group: str | None = None):
    user = django_user_model.objects.create_user(username, password="pw")
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def queue_up(count: int, mrd: int = 5000, age: timedelta | None = None, selector: str = "Sales") -> list[Contact]:
    contacts = []
    for i in range(count):
        contact = make_contact(selector=selector, name=f"q{i}")
        changes = {"cce_mrd_id": mrd}
        lifecycle.transition(contact, "queued", Reason.EXTERNALLY_ROUTED, source=Source.CCE, changes=changes)
        contacts.append(contact)
    if age:
        Contact.objects.filter(pk__in=[c.pk for c in contacts]).update(created_at=timezone.now() - age)
    return contacts


def feed_of(client, **params) -> dict:
    response = client.get("/alerts/feed", {"discards": 0, "queue": 0, "acks": 0, **params})
    assert response.status_code == 200
    return response.json()


def ack(client, *keys: str, **fields):
    return client.post("/alerts/ack", {"alert": list(keys), **fields}, HTTP_ACCEPT="application/json")
