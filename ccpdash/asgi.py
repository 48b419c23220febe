"""ASGI entry point: HTTP goes to Django, WebSockets to the Channels consumers, both behind the request limits.

The limits (README "Web server"): the server (Granian) passes oversized request lines and headers
through and times out only clients that drip their headers, and Django reads a whole body (spooling it to
disk) before any view can refuse it, so `RequestLimits` refuses what is too big before Django sees it and
ends a request whose body drips in.
"""

from __future__ import annotations

import asyncio
import os

import django
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpResponse, HttpResponseBadRequest

# Request line and headers as browsers and proxies size them: nginx, Apache and Tomcat stop at 8 KB per
# line; a CCP client with more to send POSTs a body (≤ 1 MB) instead of a query string.
MAX_URL_BYTES = 8 * 1024
MAX_HEADER_BYTES = 32 * 1024
# Ten times the API's own limit (DATA_UPLOAD_MAX_MEMORY_SIZE, answered with the API's 413 document): up to
# here the views answer in their own format; beyond it nothing is read, or spooled to disk, at all.
MAX_BODY_BYTES = 10 * 1024 * 1024
# Apache mod_reqtimeout's defaults: the body gets 20 s, and every 500 bytes received one second more, so
# a slow but honest upload finishes and a client dripping a byte a second is cut off.
BODY_SECONDS = 20.0
BODY_MIN_BYTES_PER_SECOND = 500


def _url_bytes(scope: dict) -> int:
    raw_path = scope.get("raw_path") or scope["path"].encode()
    return len(raw_path) + len(scope.get("query_string", b""))


def _header_bytes(scope: dict) -> int:
    return sum(len(name) + len(value) for name, value in scope.get("headers", ()))


def _declared_length(scope: dict) -> int:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


class Body:
    """The app's `receive` with a deadline and a size cap on the body; past either, the app sees a disconnect."""

    def __init__(self, receive) -> None:
        self.receive = receive
        self.loop = asyncio.get_running_loop()
        self.deadline = self.loop.time() + BODY_SECONDS
        self.received = 0
        self.done = False  # the body is complete (or given up): later calls wait for the disconnect as sent
        self.refusal = 0  # 408 or 413 once given up

    async def __call__(self) -> dict:
        if self.done:
            return await self.receive()
        try:
            async with asyncio.timeout_at(self.deadline):
                message = await self.receive()
        except TimeoutError:
            return self._give_up(408)
        if message["type"] != "http.request":
            self.done = True
            return message
        self.received += len(message.get("body", b""))
        if self.received > MAX_BODY_BYTES:
            return self._give_up(413)
        self.deadline += len(message.get("body", b"")) / BODY_MIN_BYTES_PER_SECOND
        self.done = not message.get("more_body", False)
        return message

    def _give_up(self, status: int) -> dict:
        self.done, self.refusal = True, status
        return {"type": "http.disconnect"}


REFUSALS = {
    408: b"Request body timed out\n",
    413: b"Request body too large\n",
    414: b"Request URI too long\n",
    431: b"Request header fields too large\n",
}


class RequestLimits:
    """414, 431 and 413 for a URL, headers or body over the limits; 408 for a body that drips in."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        refusal = 414 if _url_bytes(scope) > MAX_URL_BYTES else 431 if _header_bytes(scope) > MAX_HEADER_BYTES else 0
        if refusal and scope["type"] == "websocket":
            await receive()  # websocket.connect; a close before accepting refuses the handshake (HTTP 403)
            await send({"type": "websocket.close", "code": 1008})
            return None
        if scope["type"] == "websocket":
            return await self.app(scope, receive, send)
        if not refusal and _declared_length(scope) > MAX_BODY_BYTES:
            refusal = 413
        if refusal:
            return await _answer(send, refusal)
        body = Body(receive)
        started = False

        async def tracked_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, body, tracked_send)
        if body.refusal and not started:
            # Django gave up on the request (it saw a disconnect) without answering: the client hears why.
            await _answer(send, body.refusal)
        return None


async def _answer(send, status: int) -> None:
    text = REFUSALS[status]
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(text)).encode()),
               (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text})


class DjangoHandler(ASGIHandler):
    """Django's ASGI handler, answering 400 to a request Django cannot even build.

    Django 5.2 raises ValueError while reading a Content-Type whose RFC 2231 parameter names an unknown charset
    (`a*=x''y`), before any middleware or handler500 runs: the server would answer 500 (and log a traceback).
    """

    def create_request(self, scope, body_file):
        try:
            return super().create_request(scope, body_file)
        except ValueError:
            return None, _unreadable_request(scope["path"])


def _unreadable_request(path: str) -> HttpResponse:
    """400: an `<ApiErrors>` document on the CCP API's paths, as every refusal there is; plain text elsewhere."""
    from ccpdash.failures import API_PREFIXES
    from contacts.api import documents

    message = "the Content-Type header cannot be read"
    if not path.startswith(API_PREFIXES):
        return HttpResponseBadRequest(f"Bad Request: {message}\n", content_type="text/plain; charset=utf-8")
    error = documents.ApiError(documents.INVALID_INPUT, "Content-Type", message)
    body, content_type = documents.render_errors([error], as_json=False)
    return HttpResponse(body, status=400, content_type=content_type)


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccpdash.settings")
# Django must be set up before anything imports models, so the consumers come after these lines.
django.setup(set_prefix=False)  # as get_asgi_application() does
django_asgi_app = DjangoHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from ccpdash.origins import SameOriginValidator  # noqa: E402
from contacts.live.routing import websocket_urlpatterns as dashboard_sockets  # noqa: E402
from contacts.wall.routing import websocket_urlpatterns as wall_sockets  # noqa: E402

# The wall board's socket first: the dashboard's routes end with one that refuses every other path.
websocket_urlpatterns = wall_sockets + dashboard_sockets

application = RequestLimits(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        }
    )
)
