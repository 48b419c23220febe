"""The wall board: links hashed at rest and revocable, a key that opens the board and nothing else, the board's
data and its alert groups, the admin that shows a key once, and a hub that sends wall sockets aggregates only.

The browser side (one fixed screen at two sizes, live updates, the "not live" banner) is
tests/e2e/test_wall_browser.py.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from contacts.alerts import feed
from contacts.alerts.groups import alert_groups
from contacts.core import permissions as roles
from contacts.core.lifecycle import Source
from contacts.live import hub as hubs
from contacts.wall import access
from contacts.wall.models import WallBoardLink
from contacts.workflows import actions
from tests.alerts.support import discard, make_contact
from tests.workflow_support import seed

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(db) -> str:
    seed()
    return WallBoardLink.create("Floor 2")[1]


def screen(client, key: str):
    """A kiosk's browser: no session, the link opened once (its key moves into the board's cookie)."""
    opened = client.get(f"/wall/?key={key}")
    assert opened.status_code == 302 and opened["Location"] == "/wall/"
    cookie = opened.cookies[access.COOKIE]
    assert (cookie.value, cookie["path"], cookie["httponly"], cookie["samesite"]) == (key, "/wall", True, "Lax")
    return client


class LinkTests:
    def test_a_link_stores_only_its_keys_hash(self, key):
        link = WallBoardLink.objects.get()
        assert link.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert key not in json.dumps(list(WallBoardLink.objects.values()), default=str)
        assert WallBoardLink.find(key) == link and WallBoardLink.find(key + "x") is None

    def test_the_key_opens_the_board_without_a_session(self, client, key):
        board = screen(client, key).get("/wall/")
        assert board.status_code == 200 and "_auth_user_id" not in client.session
        body = board.content.decode()
        assert 'data-key="waiting"' in body and 'id="groups"' in body
        assert WallBoardLink.objects.get().last_used_at is not None
        data = client.get("/wall/data").json()
        assert {"kpis", "alerts", "version"} <= set(data) and data["kpis"]["total"]["figures"]["waiting"]["value"] == 0

    def test_the_key_grants_nothing_else(self, client, key):
        screen(client, key)
        client.cookies[access.COOKIE]["path"] = "/"  # even sent everywhere, no other view reads it
        assert client.get("/").status_code == 302  # to the login page
        assert client.get("/contacts/").status_code == 302
        for path in ("/overview", "/events", "/alerts/feed", "/alerts/charts"):
            assert client.get(path, HTTP_ACCEPT="application/json").status_code == 401, path

    def test_without_a_key_or_with_a_revoked_one_the_board_refuses(self, client, key):
        assert client.get("/wall/").status_code == 403
        assert client.get("/wall/?key=nonsense").status_code == 403
        screen(client, key)
        WallBoardLink.objects.update(revoked_at=timezone.now())
        assert client.get("/wall/").status_code == 403
        assert client.get("/wall/data").status_code == 403
        assert client.get(f"/wall/?key={key}").status_code == 403

    def test_a_supervisor_opens_the_board_signed_in(self, client, django_user_model, db):
        seed()
        roles.ensure_role_groups()
        user = django_user_model.objects.create_user("sup")
        user.groups.add(Group.objects.get(name=roles.SUPERVISORS))
        client.force_login(user)
        assert client.get("/wall/").status_code == 200


class AdminTests:
    def admin_client(self, client, django_user_model):
        roles.ensure_role_groups()
        user = django_user_model.objects.create_user("adm", is_staff=True)
        user.groups.add(Group.objects.get(name=roles.ADMINS))
        client.force_login(user)
        return client

    def test_an_admin_creates_a_link_whose_key_is_shown_once(self, client, django_user_model, db):
        client = self.admin_client(client, django_user_model)
        response = client.post("/admin/contacts/wallboardlink/add/", {"name": "Lobby"}, follow=True)
        assert response.status_code == 200
        (message,) = [str(m) for m in response.context["messages"] if "?key=" in str(m)]
        key = message.split("?key=")[1].split("<")[0]
        link = WallBoardLink.objects.get()
        assert (link.name, link.created_by.username, WallBoardLink.find(key)) == ("Lobby", "adm", link)
        listed = client.get("/admin/contacts/wallboardlink/").content.decode()
        assert key not in listed and "live" in listed

    def test_an_admin_revokes_a_link(self, client, django_user_model, key):
        client = self.admin_client(client, django_user_model)
        link = WallBoardLink.objects.get()
        client.post("/admin/contacts/wallboardlink/", {"action": "revoke", "_selected_action": [link.pk]})
        assert WallBoardLink.objects.get().revoked and WallBoardLink.find(key) is None


class AlertGroupTests:
    def test_it_groups_alerts_by_cause_and_place_busiest_first(self, key):
        for _ in range(3):
            discard(make_contact(selector="NoScript"), "NOTIFICATION_NO_SCRIPT")
        discard(make_contact(selector="Nowhere"), "NOTIFICATION_INVALID_SCRIPT_SELECTOR")
        groups = alert_groups()
        assert [(g["count"], g["open"], g["name"], g["scope"], g["status"]) for g in groups["groups"]] == [
            (3, 3, "No routing script", "in NoScript", "open"),
            (1, 1, "Unknown script selector", "in Nowhere", "open"),
        ]  # fmt: skip
        assert groups["unacknowledged"] == 4 and groups["open"] == 2 and not groups["capped"]
        assert groups["groups"][0]["resubmit"] == (
            "/contacts/bulk/resubmit?state=discarded&reason=NOTIFICATION_NO_SCRIPT&selector=NoScript"
        )
        assert '"contact"' not in json.dumps(groups)  # aggregates: no contact is named

    def test_one_acknowledgement_for_the_group_and_new_discards_reopen_it(self, key, django_user_model):
        rows = [discard(make_contact(selector="NoScript"), "NOTIFICATION_NO_SCRIPT") for _ in range(2)]
        (group,) = alert_groups()["groups"]
        assert sorted(group["keys"]) == sorted(f"d{row.pk}" for row in rows)
        feed.acknowledge(django_user_model.objects.create_user("sup"), group["keys"])
        (group,) = alert_groups()["groups"]
        assert (group["status"], group["unacknowledged"]) == ("acknowledged", 0)
        for _ in range(3):
            discard(make_contact(selector="NoScript"), "NOTIFICATION_NO_SCRIPT")
        (group,) = alert_groups()["groups"]
        assert (group["status"], group["unacknowledged"], group["count"]) == ("new since acknowledged", 3, 5)

    def test_a_group_closes_itself_when_every_contact_has_been_resubmitted(self, key, django_user_model):
        contacts = [make_contact(selector="NoScript") for _ in range(2)]
        for contact in contacts:
            discard(contact, "NOTIFICATION_NO_SCRIPT")
        admin = django_user_model.objects.create_superuser("root")
        actions.resubmit(contacts[0], source=Source.DASHBOARD, user=admin)
        (group,) = alert_groups()["groups"]
        assert (group["status"], group["open"]) == ("open", 1)
        actions.resubmit(contacts[1], source=Source.DASHBOARD, user=admin)
        groups = alert_groups()
        assert [g["status"] for g in groups["groups"]] == ["resolved"] and groups["open"] == 0

    def test_the_home_page_shows_the_groups_with_one_acknowledgement_each(self, key, client, django_user_model):
        for _ in range(2):
            discard(make_contact(selector="NoScript"), "NOTIFICATION_NO_SCRIPT")
        roles.ensure_role_groups()
        user = django_user_model.objects.create_user("sup")
        user.groups.add(Group.objects.get(name=roles.SUPERVISORS))
        client.force_login(user)
        body = client.get("/").content.decode()
        assert 'data-group="NOTIFICATION_NO_SCRIPT in NoScript"' in body and "2 ×" in body
        assert "Acknowledge 2</button>" in body
        assert "Resubmit all" not in body  # a supervisor does not resubmit


class AggregatesOnlyTests:
    """A wall socket is sent the figures, never a contact's event, in one encoding for all wall sockets."""

    class Socket:
        def __init__(self, aggregates_only: bool = False) -> None:
            self.aggregates_only, self.texts = aggregates_only, []

        def offer(self, text: str) -> None:
            self.texts.append(json.loads(text))

        def heartbeat_seen(self) -> None:
            pass

    def test_the_hub_sends_wall_sockets_a_frame_of_aggregates(self, monkeypatch):
        encoded = []
        real = hubs.encode
        monkeypatch.setattr(hubs, "encode", lambda frame: encoded.append(frame) or real(frame))
        hub = hubs.Hub.__new__(hubs.Hub)  # no channel layer needed to fan out
        hub.seq = hub.frames = hub.messages = 0
        page, walls = self.Socket(), [self.Socket(True), self.Socket(True)]
        hub.subscribers = {page, *walls}
        event = {"type": "event", "event": {"id": 7, "name": "Ada Lovelace"}}
        snapshot = {"type": "overview.snapshot", "overview": {"version": 1}}
        hub.fan_out([event, snapshot])
        assert [m["type"] for m in page.texts[0]["messages"]] == ["event", "overview.snapshot"]
        for wall in walls:
            assert [m["type"] for m in wall.texts[0]["messages"]] == ["overview.snapshot"]
        assert len(encoded) == 2  # one for the pages, one for every wall socket
        hub.fan_out([event])  # nothing for a wall: no frame at all
        assert len(page.texts) == 2 and all(len(wall.texts) == 1 for wall in walls)
