"""Who may do what: anonymous, supervisor, admin and superuser against every workflow page, endpoint and Django
admin action. A refused attempt changes nothing; an allowed one has its effect. (The workflows add no
WebSocket actions: the socket only carries `job.progress` hints, and its own checks are in test_consumers.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from contacts.core.lifecycle import Source
from contacts.core.models import Contact
from contacts.workflows import jobs as workflows
from contacts.workflows.models import AuditEntry, BulkJob
from tests.workflow_support import client_for, discard, make_user, pair, task

ANONYMOUS = None
ROLES = [ANONYMOUS, "supervisor", "admin", "superuser"]
MANAGERS = {"admin", "superuser"}
VIEWERS = {"supervisor", "admin", "superuser"}
JSON = {"HTTP_ACCEPT": "application/json"}


@dataclass
class World:
    discarded: Contact
    waiting: Contact
    job: BulkJob

    def snapshot(self) -> tuple:
        return (pair(self.discarded), pair(self.waiting), Contact.objects.count(), BulkJob.objects.count(),
                AuditEntry.objects.count())


@dataclass(frozen=True)
class Action:
    name: str
    method: str
    path: Callable[[World], str]
    allowed: set
    data: Callable[[World], dict] = lambda world: {}
    json: bool = False  # answers JSON to every caller (401/403 as JSON, never a login page)
    changes: bool = False  # a POST that changes something when allowed


def admin_action(action: str) -> Callable[[World], dict]:
    return lambda w: {"action": action, ACTION_CHECKBOX_NAME: [w.discarded.pk, w.waiting.pk], "post": "yes"}


ACTIONS = [
    Action("resubmit page", "get", lambda w: f"/contacts/{w.discarded.public_id}/resubmit", MANAGERS),
    Action("resubmit preview", "get", lambda w: f"/contacts/{w.discarded.public_id}/resubmit/preview", MANAGERS,
           json=True),
    Action("resubmit", "post", lambda w: f"/contacts/{w.discarded.public_id}/resubmit/confirm", MANAGERS,
           changes=True),
    Action("resubmit (fetch)", "post", lambda w: f"/contacts/{w.discarded.public_id}/resubmit/confirm", MANAGERS,
           json=True, changes=True),
    Action("cancel", "post", lambda w: f"/contacts/{w.waiting.public_id}/cancel", MANAGERS, changes=True),
    Action("bulk resubmit preview", "get", lambda w: "/contacts/bulk/resubmit", MANAGERS),
    Action("bulk resubmit start", "post", lambda w: "/contacts/bulk/resubmit/start", MANAGERS, changes=True),
    Action("bulk cancel preview", "get", lambda w: "/contacts/bulk/cancel", MANAGERS),
    Action("bulk cancel start", "post", lambda w: "/contacts/bulk/cancel/start", MANAGERS, changes=True),
    Action("job page", "get", lambda w: f"/jobs/{w.job.pk}", MANAGERS),
    Action("job status", "get", lambda w: f"/jobs/{w.job.pk}/status", MANAGERS, json=True),
    Action("job list", "get", lambda w: "/jobs/", MANAGERS),
    Action("audit log", "get", lambda w: "/audit/", MANAGERS),
    Action("CSV export", "get", lambda w: "/contacts.csv", VIEWERS),
    Action("admin: resubmit selected", "post", lambda w: "/admin/contacts/contact/", MANAGERS,
           admin_action("resubmit_selected"), changes=True),
    Action("admin: cancel selected", "post", lambda w: "/admin/contacts/contact/", MANAGERS,
           admin_action("cancel_selected"), changes=True),
]


@pytest.fixture
def world(db) -> World:
    job = workflows.start("cancel", {"kind": "callback"}, user=make_user("superuser", "boss"))
    return World(discarded=discard(task("Missing")), waiting=task("Sales"), job=job)


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and "login" in response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES, ids=lambda role: role or "anonymous")
@pytest.mark.parametrize("action", ACTIONS, ids=lambda action: action.name)
class PermissionMatrixTests:
    def test_it_lets_exactly_the_allowed_roles_act(self, world, role, action):
        client = client_for(role)
        before = world.snapshot()
        extra = JSON if action.json else {}
        response = getattr(client, action.method)(action.path(world), action.data(world), **extra)
        allowed = role in action.allowed
        if allowed:
            assert response.status_code in (200, 302), response.status_code
            assert not is_login_redirect(response)
        elif role is ANONYMOUS:
            assert response.status_code == 401 if action.json else is_login_redirect(response)
        elif action.path(world).startswith("/admin/"):
            assert response.status_code in (200, 302)  # Django's admin says "No action selected"
        else:
            assert response.status_code == 403
        if action.changes and allowed:
            assert world.snapshot() != before
        else:
            assert world.snapshot() == before


@pytest.mark.django_db
class AdminActionTests:
    def test_it_asks_for_confirmation_before_acting(self, world):
        client = client_for("admin")
        data = {"action": "resubmit_selected", ACTION_CHECKBOX_NAME: [world.discarded.pk, world.waiting.pk]}
        body = client.post("/admin/contacts/contact/", data).content.decode()
        assert "Yes, resubmit 1" in body and "only a discarded contact can be resubmitted" in body
        assert pair(world.discarded)[0] == "discarded"

    def test_it_resubmits_what_it_can_and_says_what_it_left(self, world):
        response = client_for("admin").post("/admin/contacts/contact/", {**admin_action("resubmit_selected")(world),
                                                                         "comment": "from the admin"}, follow=True)
        body = response.content.decode()
        assert "Resubmit: 1 of 2 done." in body and "Nothing changed for 1: 1 not discarded." in body
        assert pair(world.discarded) == ("queued", "TASK_RENOTIFY_REQUESTED")
        entry = AuditEntry.objects.get(action="resubmit")
        assert (entry.source, entry.comment) == (Source.ADMIN, "from the admin")

    def test_it_refuses_more_than_it_can_do_in_one_request(self, world, monkeypatch):
        from contacts.workflows import admin as workflow_admin

        monkeypatch.setattr(workflow_admin, "MAX_SELECTED", 1)
        response = client_for("admin").post("/admin/contacts/contact/", admin_action("cancel_selected")(world),
                                            follow=True)
        assert "use the bulk cancel" in response.content.decode()
        assert pair(world.waiting) == ("unread", "")
