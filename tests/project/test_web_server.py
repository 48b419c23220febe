"""The web server ccpdash runs (ccpdash.processes.web), as a real subprocess on the test database.

What it does with oversized and slow requests (README "Web server": the server's own header timeout,
ccpdash.asgi's guard for the rest), and that the dashboard's WebSocket works through it. The slow-drip
tests wait for the real timeouts, so they take that long (about 10 and 20 seconds).
"""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from ccpdash import asgi, processes
from contacts.core import permissions as roles
from contacts.core.models import Contact, Feed, FeedType
from contacts.demo import servers, simulator
from contacts.live import broadcast
from contacts.live.hub import unpack
from tests.web import start_web_server

TASK = b"<Task><name>Ada</name><title>Order 4711</title><scriptSelector>Sales</scriptSelector></Task>"


@pytest.fixture(scope="module")
def web_port(django_db_setup, tmp_path_factory) -> Iterator[int]:
    server = start_web_server(tmp_path_factory.mktemp("web"))
    yield server.port
    server.stop()
    print(f"--- web server (last lines) ---\n{server.log_tail()}")


def status_of(port: int, request: bytes) -> str:
    return asyncio.run(servers.first_line(port, request))


def get(path: bytes, headers: bytes = b"") -> bytes:
    return b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"Connection: close\r\n\r\n"


async def exchange(port: int, request: bytes) -> bytes:
    """Everything the server answers `request` with (the request asks it to close the connection)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 60)
    writer.close()
    return answer


def padding(total: int) -> bytes:
    """Header lines whose names and values add up to `total` bytes (as the guard counts them)."""
    lines, left, n = [], total, 0
    while left > 0:
        name = b"X-Pad-%d" % n
        value = b"v" * max(1, min(1000, left - len(name)))
        lines.append(name + b": " + value + b"\r\n")
        left -= len(name) + len(value)
        n += 1
    return b"".join(lines)


class WebServerLimitsTests:
    def test_it_answers_414_to_a_url_over_the_limit(self, web_port):
        assert status_of(web_port, get(b"/accounts/login/?q=" + b"a" * 20_000)) == "414"

    def test_it_serves_a_url_at_the_limit(self, web_port):
        path = b"/accounts/login/?q="
        assert status_of(web_port, get(path + b"a" * (asgi.MAX_URL_BYTES - len(path)))) == "200"

    def test_it_answers_431_to_headers_over_the_limit(self, web_port):
        assert status_of(web_port, get(b"/accounts/login/", padding(70_000))) == "431"

    def test_it_serves_headers_up_to_the_limit(self, web_port):
        # The request's own Host and Connection headers count too: leave them room.
        assert status_of(web_port, get(b"/accounts/login/", padding(asgi.MAX_HEADER_BYTES - 100))) == "200"

    def test_it_cuts_off_a_client_that_drips_its_headers(self, web_port):
        ended = asyncio.run(servers.drip(
            web_port, b"GET /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-Slow: " + b"s" * 200 + b"\r\n\r\n",
            patience=processes.HEADER_TIMEOUT_SECONDS + 15,
        ))
        assert ended["outcome"] != "still open", ended

    def test_it_answers_413_to_a_declared_body_over_the_cap_without_reading_it(self, web_port):
        head = (b"POST /ccp/rest/task/feed/100 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/xml\r\n"
                b"Content-Length: %d\r\n\r\n" % (asgi.MAX_BODY_BYTES + 1))
        assert status_of(web_port, head) == "413"

    def test_it_answers_413_to_a_streamed_body_once_it_passes_the_cap(self, web_port):
        head = (b"POST /ccp/rest/task/feed/100 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/xml\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)

        async def stream() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", web_port)

            async def send() -> None:
                writer.write(head)
                for _ in range(asgi.MAX_BODY_BYTES // 65536 + 16):
                    writer.write(chunk)
                    await writer.drain()

            sender = asyncio.create_task(send())
            try:
                return await asyncio.wait_for(reader.readline(), 60)
            finally:
                sender.cancel()
                writer.close()

        assert asyncio.run(stream()).startswith(b"HTTP/1.1 413")

    @pytest.mark.parametrize(("path", "answer"), [(b"/ccp/rest/task/feed/100", b"<ApiErrors>"),
                                                  (b"/accounts/login/", b"Content-Type")])
    def test_it_answers_400_to_a_content_type_django_cannot_read(self, web_port, path, answer):
        # An RFC 2231 parameter naming an unknown charset: Django raises building the request, before any middleware.
        request = (b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/xml; a*=x''y\r\n"
                   b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        reply = asyncio.run(exchange(web_port, request))
        assert reply.startswith(b"HTTP/1.1 400") and answer in reply, reply[:300]

    @pytest.mark.django_db(transaction=True)
    def test_it_leaves_a_body_under_the_cap_to_the_apis_own_413(self, web_port):
        Feed.objects.create(id=100, name="Web tasks", type=FeedType.TASK)
        body = b"<Task><name>Ada</name><title>" + b"t" * (2 * 1024 * 1024) + b"</title></Task>"
        head = (b"POST /ccp/rest/task/feed/100 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/xml\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))

        async def post() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", web_port)
            writer.write(head + body)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 60)
            writer.close()
            return answer

        answer = asyncio.run(post())
        assert answer.startswith(b"HTTP/1.1 413") and b"<ApiErrors>" in answer, answer[:300]

    @pytest.mark.django_db(transaction=True)
    def test_it_answers_408_to_a_body_that_drips_in(self, web_port):
        Feed.objects.create(id=100, name="Web tasks", type=FeedType.TASK)
        head = (b"POST /ccp/rest/task/feed/100 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/xml\r\n"
                b"Content-Length: %d\r\n\r\n" % len(TASK))
        ended = asyncio.run(servers.drip(web_port, head, TASK, patience=asgi.BODY_SECONDS + 15))
        assert ended["outcome"] == "answered 408", ended
        assert not Contact.objects.filter(feed_id=100).exists()

    @pytest.mark.django_db(transaction=True)
    def test_it_takes_a_body_that_arrives_in_pieces_in_good_time(self, web_port):
        Feed.objects.create(id=100, name="Web tasks", type=FeedType.TASK)
        head = (b"POST /ccp/rest/task/feed/100 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/xml\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(TASK))

        async def send_in_two_pieces() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", web_port)
            writer.write(head + TASK[:20])
            await writer.drain()
            await asyncio.sleep(1)
            writer.write(TASK[20:])
            line = await asyncio.wait_for(reader.readline(), 30)
            writer.close()
            return line

        assert asyncio.run(send_in_two_pieces()).startswith(b"HTTP/1.1 201")


@pytest.mark.django_db(transaction=True)
class TrafficSimulatorTests:
    def test_the_demo_traffic_creates_and_polls_through_it(self, web_port):
        # make run's demo traffic (manage.py simulate) read Location in its title case and, served by Granian's
        # lower-case names, found none: it crashed on its first planned cancel.
        Feed.objects.get_or_create(id=100, defaults={"name": "Web tasks", "type": FeedType.TASK})
        client = simulator.ApiClient(f"http://127.0.0.1:{web_port}")
        planned = simulator.PlannedContact(index=0, kind="task", intent="cancel", feed=100, name="Ada",
                                           title="Order 4711", selector="Sales")
        code, location = client.create(planned)
        assert code == 201
        assert location.startswith(f"http://127.0.0.1:{web_port}/ccp/rest/task/contact/")
        assert client.status(location)[:2] == (200, "unread")


def supervisor_cookie() -> str:
    roles.ensure_role_groups()
    user = get_user_model().objects.create_user("sup", password="sup-password")
    user.groups.add(Group.objects.get(name=roles.SUPERVISORS))
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.mark.django_db(transaction=True)
class WebServerSocketTests:
    def test_it_carries_the_dashboard_socket_and_its_broadcasts(self, web_port):
        headers = {"Cookie": f"sessionid={supervisor_cookie()}", "Origin": f"http://127.0.0.1:{web_port}"}
        with connect(f"ws://127.0.0.1:{web_port}/ws/dashboard", additional_headers=headers, open_timeout=20) as ws:
            broadcast.send(broadcast.DASHBOARD_GROUP, {"type": "contact.event", "event": {"id": 7, "contact": "abc"}})
            assert unpack(json.loads(ws.recv(timeout=10))) == [{"type": "event", "event": {"id": 7, "contact": "abc"}}]

    def test_it_refuses_a_socket_whose_url_is_over_the_limit(self, web_port):
        headers = {"Cookie": f"sessionid={supervisor_cookie()}", "Origin": f"http://127.0.0.1:{web_port}"}
        url = f"ws://127.0.0.1:{web_port}/ws/dashboard?q={'a' * 20_000}"
        with pytest.raises(InvalidStatus) as refused:
            connect(url, additional_headers=headers, open_timeout=20)
        assert refused.value.response.status_code == 403


class ProcfileTests:
    def test_it_starts_the_web_server_ccpdash_runs_with_the_same_options(self):
        line = next(line for line in Path(settings.BASE_DIR, "Procfile").read_text().splitlines()
                    if line.startswith("web:"))
        spelled = line.removeprefix("web:").replace("${PORT:-8000}", "8000")
        spelled = spelled.replace("${WEB_CONCURRENCY:-2}", str(processes.WEB_PROCESSES))
        command = processes.web("0.0.0.0", 8000)
        assert shlex.split(spelled) == [Path(command[0]).name, *command[1:]]
