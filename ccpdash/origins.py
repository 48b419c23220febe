"""The WebSocket origin check: a socket opens only from a page of this site, compared by scheme, host and port.

A browser sends the page's origin with every WebSocket handshake, and the socket carries the user's
session cookie, so a page of another origin (another port of the same host, or http where the site is
https) must not open one. Accepted: an `Origin` equal to the site's own origin as the handshake reached
it (`Host` header, which must be one of ALLOWED_HOSTS; https behind a proxy that sets
SECURE_PROXY_SSL_HEADER, or a `wss` handshake), or one of CSRF_TRUSTED_ORIGINS (exactly, scheme included).
Everything else, a handshake without `Origin` included, is refused with 403 before the consumer runs.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]


def parse_origin(value: str) -> Origin | None:
    """(scheme, host, port) of an origin such as "https://example.com:8443"; None if it is not one."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/") or parts.query:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def own_origin(scope: dict) -> Origin | None:
    """The site's origin as this handshake reached it, or None if its Host is missing or not allowed."""
    headers = {name.lower(): value for name, value in scope.get("headers", [])}
    host = headers.get(b"host", b"").decode("latin-1").strip()
    domain, port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    secure = scope.get("scheme") == "wss"
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        header = proxy[0].removeprefix("HTTP_").replace("_", "-").lower().encode()
        secure = secure or headers.get(header, b"").decode("latin-1").split(",")[0].strip() == proxy[1]
    scheme = "https" if secure else "http"
    return scheme, domain.strip("[]").lower(), int(port) if port else DEFAULT_PORTS[scheme]


def trusted_origins() -> set[Origin]:
    return {origin for value in settings.CSRF_TRUSTED_ORIGINS if (origin := parse_origin(value)) is not None}


class SameOriginValidator:
    """ASGI middleware for WebSocket scopes: lets through only handshakes whose `Origin` is allowed (above)."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not self.allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)

    @staticmethod
    def allowed(scope: dict) -> bool:
        headers = {name.lower(): value for name, value in scope.get("headers", [])}
        origin = parse_origin(headers.get(b"origin", b"").decode("latin-1"))
        if origin is None:
            return False
        return origin == own_origin(scope) or origin in trusted_origins()
