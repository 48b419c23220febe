"""The live path over real sockets, against the web server ccpdash runs: a browser that stops reading, two servers.

Each test starts its own server processes on the test database (tests/web.py) and talks to them as a
browser does: a WebSocket with the session cookie, the events endpoint to resync, the CCP API to create.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from contacts.core import lifecycle
from contacts.core import permissions as roles
from contacts.core.models import Contact, Feed, FeedType, Transition
from contacts.live.resync import RESYNC_WINDOW
from tests.live.test_consumers import create_task, make_user
from tests.web import start_web_server

TASK = b"<Task><name>Ada</name><title>Order 4711</title><scriptSelector>Sales</scriptSelector></Task>"


@pytest.fixture
def cookie(transactional_db, django_user_model) -> str:
    client = Client()
    client.force_login(make_user(django_user_model, "sup", roles.SUPERVISORS))
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
def servers(django_db_setup, tmp_path) -> Iterator[list]:
    """Start web servers with `start(**env)`; all are stopped (and their logs shown) at the end."""
    started = []

    def start(**env):
        server = start_web_server(tmp_path, workers=1, env={key: str(value) for key, value in env.items()})
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        print(f"--- web server {server.port} (last lines) ---\n{server.log_tail()}")


class Page:
    """A dashboard page's live feed, as live.js keeps it: newest id, frame numbers, resync when told."""

    def __init__(self, port: int, cookie: str, *, receive_buffer: int | None = None, max_queue: int = 16) -> None:
        self.port, self.cookie = port, cookie
        sock = socket.socket()
        if receive_buffer:  # set before connecting, so the window the kernel offers stays this small
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.connect(("127.0.0.1", port))
        headers = {"Cookie": f"sessionid={cookie}", "Origin": f"http://127.0.0.1:{port}"}
        self.ws = connect(f"ws://127.0.0.1:{port}/ws/dashboard", sock=sock, additional_headers=headers,
                          open_timeout=20, max_queue=max_queue, max_size=None, legacy=True)
        self.ids: set[int] = set()
        self.last_id = 0
        self.next_seq: int | None = None
        self.resync_from: int | None = None  # the newest id seen when the first loss was noticed
        self.notices: list[str] = []

    def read(self, quiet: float = 2.0) -> None:
        """Take everything the socket carries until it is quiet for `quiet` seconds."""
        while True:
            try:
                data = json.loads(self.ws.recv(timeout=quiet))
            except (TimeoutError, ConnectionClosed):
                return
            for frame in data if isinstance(data, list) else [data]:
                if frame["type"] == "resync":
                    self.lost(frame["why"])
                    continue
                if self.next_seq is not None and frame["seq"] != self.next_seq:
                    self.lost("seq")
                self.next_seq = frame["seq"] + 1
                for message in frame["messages"]:
                    if message["type"] == "resync":
                        self.lost(message["why"])
                    elif message["type"] == "event":
                        self.ids.add(message["event"]["id"])
                        self.last_id = max(self.last_id, message["event"]["id"])

    def lost(self, why: str) -> None:
        self.notices.append(why)
        if self.resync_from is None:
            self.resync_from = self.last_id

    def resync(self) -> None:
        """Read the events endpoint from before the loss (minus the window), every page of it."""
        url = f"http://127.0.0.1:{self.port}/events?after={max(0, self.resync_from - RESYNC_WINDOW)}&limit=500"
        while url:
            request = urllib.request.Request(url, headers={"Cookie": f"sessionid={self.cookie}"})
            with urllib.request.urlopen(request, timeout=30) as answer:
                body = json.load(answer)
            self.ids.update(event["id"] for event in body["events"])
            url = body["next"] and f"http://127.0.0.1:{self.port}{body['next']}"
        self.resync_from = None


def create_batches(batches: int, size: int, *, title: str = "Order 4711") -> None:
    """`batches` transactions of `size` created tasks each: one burst of broadcasts per commit."""
    feed, _ = Feed.objects.get_or_create(id=100, defaults={"name": "tasks", "type": FeedType.TASK})
    for _ in range(batches):
        with transaction.atomic():
            for n in range(size):
                lifecycle.create("task", feed, name=f"burst {n}".ljust(100, "."), title=title, script_selector="Sales")


class SlowBrowserTests:
    def test_a_dashboard_that_stops_reading_is_told_to_resync_and_then_has_every_event(self, servers, cookie):
        server = servers(LIVE_SOCKET_MAX_FRAMES=3)
        page = Page(server.port, cookie, receive_buffer=4096, max_queue=1)
        # The page reads nothing while 5,000 events of 1.1 kB go out: the socket's buffers fill (the
        # server's send buffer may grow to 4 MB here, net.ipv4.tcp_wmem), the server's sends wait, and
        # frames queue up behind them past the limit.
        create_batches(100, 50, title="t" * 255)
        page.read()
        assert "behind" in page.notices
        created = set(Transition.objects.values_list("id", flat=True))
        assert not created <= page.ids  # frames were dropped for it...
        page.resync()
        assert created <= page.ids  # ...and the resync brought every one of them
        page.ws.close()

    def test_a_dashboard_that_reads_gets_every_event_on_the_socket_without_a_resync(self, servers, cookie):
        server = servers()
        page = Page(server.port, cookie)
        create_batches(20, 50)
        page.read()
        assert page.notices == []
        assert set(Transition.objects.values_list("id", flat=True)) <= page.ids
        page.ws.close()


class SeveralWebProcessesTests:
    def test_a_dashboard_on_one_web_process_gets_what_another_and_a_worker_caused(self, servers, cookie):
        Feed.objects.create(id=100, name="Web tasks", type=FeedType.TASK)
        first, second = servers(), servers()
        page = Page(first.port, cookie)
        request = urllib.request.Request(f"http://127.0.0.1:{second.port}/ccp/rest/task/feed/100", data=TASK,
                                         headers={"Content-Type": "application/xml"}, method="POST")
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 201
        by_api = Transition.objects.get(contact__in=Contact.objects.filter(feed_id=100))
        # This test process broadcasts as a worker does: its own sender, through Redis.
        by_worker = create_task("from a worker")
        page.read()
        assert {by_api.pk, by_worker.pk} <= page.ids
        assert page.notices == []
        page.ws.close()
