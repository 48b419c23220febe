"""The dashboard's WebSocket (through the real ASGI stack and Redis channel layer) and the events endpoint."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client

from ccpdash.asgi import application
from ccpdash.origins import SameOriginValidator
from contacts.core import lifecycle
from contacts.core import permissions as roles
from contacts.core.lifecycle import Source
from contacts.core.models import Feed, FeedType, Transition
from contacts.live import broadcast, consumers
from tests.live.support import nothing_but_snapshots, receive_message

ORIGIN = "http://testserver"
TASK_QUEUED = ("queued", "EXTERNALLY_ROUTED")


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def make_user(django_user_model, username: str, group: str | None = None):
    roles.ensure_role_groups()
    user = django_user_model.objects.create_user(username, password="pw")
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


async def open_socket(cookie: str | None = None, origin: str | None = ORIGIN, host: str = "testserver",
                      path: str = "/ws/dashboard", scheme: str = "ws") -> tuple[WebsocketCommunicator, bool]:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    communicator.scope["scheme"] = scheme
    connected, _ = await communicator.connect(timeout=5)
    return communicator, connected


def create_task(name: str = "Ada") -> Transition:
    feed, _ = Feed.objects.get_or_create(id=100, defaults={"name": "tasks", "type": FeedType.TASK})
    contact = lifecycle.create("task", feed, name=name, title="Order 4711", script_selector="Sales")
    return contact.transitions.get()


def create_and_roll_back() -> None:
    with transaction.atomic():
        create_task("Rolled back")
        transaction.set_rollback(True)


@pytest.fixture
def supervisor_cookie(django_user_model) -> str:
    return session_cookie(make_user(django_user_model, "sup", roles.SUPERVISORS))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
class ConsumerTests:
    @pytest.mark.asyncio
    async def test_it_closes_an_anonymous_socket_with_4401(self):
        communicator, connected = await open_socket()
        assert connected  # accepted first: a browser sees a custom close code only on an open socket
        assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}

    @pytest.mark.asyncio
    async def test_it_closes_a_socket_without_the_view_permission_with_4403(self, django_user_model):
        cookie = await sync_to_async(lambda: session_cookie(make_user(django_user_model, "nobody")))()
        communicator, _ = await open_socket(cookie)
        assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}

    @pytest.mark.asyncio
    async def test_it_refuses_a_foreign_origin(self, supervisor_cookie):
        communicator, connected = await open_socket(supervisor_cookie, origin="http://evil.example")
        assert not connected

    @pytest.mark.asyncio
    @pytest.mark.parametrize(("origin", "host", "scheme"), [
        ("http://127.0.0.1:9999", "127.0.0.1:8000", "ws"),  # another port of the same host
        ("https://127.0.0.1", "127.0.0.1", "ws"),  # https page, http site
        ("http://127.0.0.1", "127.0.0.1", "wss"),  # http page, https site
        ("http://127.0.0.1:8000", "evil.example:8000", "ws"),  # a Host the site does not serve
        (None, "127.0.0.1:8000", "ws"),  # no Origin at all
        ("null", "127.0.0.1:8000", "ws"),  # a sandboxed or file:// page
    ])
    async def test_it_refuses_an_origin_that_differs_in_scheme_host_or_port(self, supervisor_cookie, origin, host,
                                                                           scheme):
        communicator, connected = await open_socket(supervisor_cookie, origin=origin, host=host, scheme=scheme)
        assert not connected

    @pytest.mark.asyncio
    @pytest.mark.parametrize(("origin", "host", "scheme"), [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "ws"),
        ("http://LOCALHOST:80", "localhost", "ws"),  # default port and case do not matter
        ("https://127.0.0.1", "127.0.0.1:443", "wss"),
        ("http://[::1]:8000", "[::1]:8000", "ws"),
    ])
    async def test_it_accepts_the_sites_own_origin(self, supervisor_cookie, origin, host, scheme):
        communicator, connected = await open_socket(supervisor_cookie, origin=origin, host=host, scheme=scheme)
        assert connected
        await communicator.disconnect()

    @pytest.mark.asyncio
    async def test_it_accepts_a_configured_trusted_origin_with_its_scheme(self, supervisor_cookie, settings):
        settings.CSRF_TRUSTED_ORIGINS = ["https://dash.example.com"]
        communicator, connected = await open_socket(supervisor_cookie, origin="https://dash.example.com")
        assert connected
        await communicator.disconnect()
        communicator, connected = await open_socket(supervisor_cookie, origin="http://dash.example.com")
        assert not connected

    def test_it_takes_https_from_the_proxy_header_when_one_is_configured(self, settings):
        settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        scope = {"type": "websocket", "scheme": "ws", "headers": [
            (b"host", b"127.0.0.1"), (b"origin", b"https://127.0.0.1"), (b"x-forwarded-proto", b"https")]}
        assert SameOriginValidator.allowed(scope)
        scope["headers"][2] = (b"x-forwarded-proto", b"http")
        assert not SameOriginValidator.allowed(scope)

    @pytest.mark.asyncio
    async def test_it_refuses_a_handshake_to_an_unknown_path_without_failing(self, supervisor_cookie):
        communicator, connected = await open_socket(supervisor_cookie, path="/ws/nothing")
        assert not connected

    @pytest.mark.asyncio
    async def test_it_delivers_a_committed_transition_with_its_payload_and_id(self, supervisor_cookie):
        communicator, connected = await open_socket(supervisor_cookie)
        assert connected
        row = await sync_to_async(create_task)()
        message = await receive_message(communicator, timeout=5)
        assert message["type"] == "event"
        event = message["event"]
        assert event["id"] == row.pk
        assert event["contact"] == await sync_to_async(lambda: row.contact.public_id)()
        assert (event["kind"], event["rule"], event["from"], event["to"]) == ("task", "T1", None, ["unread", ""])
        assert (event["name"], event["title"], event["feed"]) == ("Ada", "Order 4711", 100)
        await communicator.disconnect()

    @pytest.mark.asyncio
    async def test_it_delivers_nothing_for_a_rolled_back_transition(self, supervisor_cookie):
        communicator, _ = await open_socket(supervisor_cookie)
        await sync_to_async(create_and_roll_back)()
        assert await nothing_but_snapshots(communicator, timeout=1)
        row = await sync_to_async(create_task)("Committed")
        event = (await receive_message(communicator, timeout=5))["event"]
        assert (event["id"], event["name"]) == (row.pk, "Committed")
        await communicator.disconnect()

    @pytest.mark.asyncio
    async def test_it_forwards_the_heartbeat_with_the_newest_id(self, supervisor_cookie):
        communicator, _ = await open_socket(supervisor_cookie)
        row = await sync_to_async(create_task)()
        await receive_message(communicator, timeout=5)
        await sync_to_async(broadcast.send_heartbeat)()
        message = await receive_message(communicator, timeout=5)
        assert (message["type"], message["last_id"]) == ("heartbeat", row.pk)
        await communicator.disconnect()

    @pytest.mark.asyncio
    async def test_it_relays_a_heartbeat_sent_from_a_real_celery_worker(self, supervisor_cookie, worker):
        communicator, _ = await open_socket(supervisor_cookie)
        row = await sync_to_async(create_task)()
        await sync_to_async(broadcast.send_heartbeat.delay)()
        # The worker may also move the task (and broadcast that) before the heartbeat comes.
        message = await receive_message(communicator, timeout=30)
        while message["type"] != "heartbeat":
            message = await receive_message(communicator, timeout=30)
        assert message["last_id"] >= row.pk
        await communicator.disconnect()

    @pytest.mark.asyncio
    async def test_it_closes_with_4401_at_a_heartbeat_after_the_session_ended(self, supervisor_cookie, monkeypatch):
        from django.contrib.sessions.models import Session

        monkeypatch.setattr(consumers, "SESSION_RECHECK_SECONDS", 0)
        communicator, _ = await open_socket(supervisor_cookie)
        await sync_to_async(Session.objects.filter(session_key=supervisor_cookie).delete)()
        await sync_to_async(broadcast.send_heartbeat)()
        assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}


def revoke(change: str, username: str = "sup") -> None:
    """Take the dashboard away from `username` one way or another, as an admin would while it watches."""
    user = get_user_model().objects.get(username=username)
    if change == "deactivate":
        user.is_active = False
        user.save()
    elif change == "password":
        user.set_password("changed")
        user.save()
    elif change == "group":
        user.groups.clear()
    elif change == "group permission":
        Group.objects.get(name=roles.SUPERVISORS).permissions.clear()
    elif change == "delete":
        user.delete()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
class RevokedAccessTests:
    """The socket closes when its user loses access while it is open, at once (no heartbeat needed), and
    another user's socket stays open."""

    @pytest.mark.asyncio
    @pytest.mark.parametrize(("change", "code"), [("deactivate", 4401), ("password", 4401), ("delete", 4401),
                                                  ("group", 4403), ("group permission", 4403)])
    async def test_it_closes_the_socket_of_a_user_who_lost_access(self, django_user_model, change, code):
        cookie = await sync_to_async(lambda: session_cookie(make_user(django_user_model, "sup", roles.SUPERVISORS)))()
        other = await sync_to_async(lambda: session_cookie(make_user(django_user_model, "admin", roles.ADMINS)))()
        watched, connected = await open_socket(cookie)
        bystander, bystander_connected = await open_socket(other)
        assert connected and bystander_connected
        await sync_to_async(revoke)(change)
        closed = await watched.receive_output(timeout=5)
        while closed["type"] != "websocket.close":  # frames already on their way may come first
            closed = await watched.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": code}
        await sync_to_async(create_task)()
        assert (await receive_message(bystander, timeout=5))["type"] == "event"  # still served
        await bystander.disconnect()

    @pytest.mark.asyncio
    async def test_a_logout_in_another_tab_closes_the_socket_of_that_session(self, django_user_model):
        user = await sync_to_async(make_user)(django_user_model, "sup", roles.SUPERVISORS)
        client = await sync_to_async(Client)()
        await sync_to_async(client.force_login)(user)
        watched, connected = await open_socket(client.cookies["sessionid"].value)
        assert connected
        await sync_to_async(client.post)("/accounts/logout/")
        closed = await watched.receive_output(timeout=5)
        while closed["type"] != "websocket.close":
            closed = await watched.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": 4401}


@pytest.mark.django_db
class EventsEndpointTests:
    def moves(self, count: int) -> list[int]:
        """`count` contacts created and queued: 2 transitions each, ids in insert order."""
        for index in range(count):
            contact = lifecycle.create("task", Feed.objects.get(id=100), name=f"c{index}", script_selector="Sales")
            lifecycle.transition(contact, *TASK_QUEUED, source=Source.CCE, changes={"cce_mrd_id": 1})
        return list(Transition.objects.order_by("id").values_list("id", flat=True))

    @pytest.fixture(autouse=True)
    def setup(self, client, django_user_model):
        Feed.objects.create(id=100, name="tasks", type=FeedType.TASK)
        client.force_login(make_user(django_user_model, "sup", roles.SUPERVISORS))

    def test_it_returns_every_event_after_the_id_minus_the_window_in_order(self, client):
        ids = self.moves(30)
        seen = set(ids[:40])  # the page has seen up to ids[39]; the window reaches back 10 more
        body = client.get("/events", {"after": ids[39] - 10}).json()
        returned = [event["id"] for event in body["events"]]
        assert returned == sorted(returned) == [i for i in ids if i > ids[39] - 10]
        fresh = [i for i in returned if i not in seen]
        assert fresh == ids[40:] and len(seen | set(fresh)) == len(ids)
        assert body["next"] is None and body["last_id"] == ids[-1]

    def test_it_pages_with_next_without_gaps_or_duplicates(self, client):
        ids = self.moves(12)
        collected, url, params = [], "/events", {"after": 0, "limit": 5}
        while url:
            body = client.get(url, params).json()
            collected += [event["id"] for event in body["events"]]
            url, params = body["next"], None
        assert collected == ids

    def test_it_uses_the_broadcast_event_format(self, client):
        self.moves(2)
        body = client.get("/events", {"after": 0}).json()
        rows = Transition.objects.select_related("contact", "user").order_by("id")
        assert body["events"] == [broadcast.transition_event(row) for row in rows]

    def test_it_limits_to_one_contact_when_asked(self, client):
        self.moves(3)
        contact = Transition.objects.order_by("id").last().contact
        body = client.get("/events", {"after": 0, "contact": contact.public_id}).json()
        assert [event["rule"] for event in body["events"]] == ["T1", "T2"]
        assert {event["contact"] for event in body["events"]} == {contact.public_id}

    def test_it_answers_401_json_to_a_signed_out_page(self, client):
        client.logout()
        response = client.get("/events", {"after": 0})
        assert (response.status_code, response.json()) == (401, {"error": "signed out"})

    def test_it_answers_403_json_without_the_view_permission(self, client, django_user_model):
        client.force_login(django_user_model.objects.create_user("nobody"))
        assert client.get("/events", {"after": 0}).status_code == 403

    def test_it_answers_400_to_a_bad_after(self, client):
        assert client.get("/events", {"after": "x"}).status_code == 400
