"""Who a read API request is: a personal token (`Authorization: Bearer`), else the browser's session (DRF's own
SessionAuthentication, for the docs page's "Try it out"; the API is read-only, so its CSRF check never applies).

A wrong token counts as a failed login of its client address, in django-axes' count (the logins' limit and
cool-off, settings "Throttling"): it is sent as Django's `user_login_failed` with no username, which axes
records, and `ccpdash.throttling.lockout_parameters` counts a failure without a username per address only.
While the address is locked out (by wrong tokens, wrong passwords, or both) every token it presents, the
right one too, is answered 429 with Retry-After, or guessing would go on; those refused tries are not
counted, so an unattended script whose token was fixed gets back in after one cool-off. A revoked token,
or one of a deactivated user, is refused (401) but not counted: it was issued, not guessed, and a script left
running with it would otherwise lock its office out of the logins.
"""

from __future__ import annotations

import math
from datetime import timedelta

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import authentication, exceptions, status
from rest_framework.request import Request

from .models import ApiToken

# How often a token's last use is written (a wall board script reads every few seconds).
USE_RECORDED_EVERY = timedelta(minutes=1)
# What axes is told about a wrong token: no username (counted per address), and where it came from.
CREDENTIALS = {"username": None, "credential": "API token"}


class LockedOut(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Too many wrong tokens or passwords from this address; try again later."
    default_code = "locked_out"

    def __init__(self) -> None:
        super().__init__()
        self.wait = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds())


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer ccpd_…`: the token's user, with the user's permissions at the time of the request."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple | None:
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None  # no token: the session may still say who it is
        client = request._request
        if not AxesProxyHandler.is_allowed(client, CREDENTIALS):
            raise LockedOut()
        token = parts[1].decode("latin-1") if len(parts) == 2 else ""
        found = ApiToken.find(token)
        if found is None:
            return self.wrong_token(client)
        if found.revoked or not found.user.is_active:
            raise exceptions.AuthenticationFailed("This token is revoked or its user deactivated.")
        record_use(found)
        return found.user, found

    def wrong_token(self, client: HttpRequest) -> None:
        user_login_failed.send(sender=__name__, credentials=CREDENTIALS, request=client)
        if getattr(client, "axes_locked_out", False):
            # This one reached the limit. Axes marked the request for its middleware, which would answer the
            # login's lockout page; the API answers its own 429, in JSON.
            client.axes_locked_out = False
            raise LockedOut()
        raise exceptions.AuthenticationFailed("Invalid token.")

    def authenticate_header(self, request: Request) -> str:
        # Present, so DRF answers a request without credentials 401 (with this challenge), not 403.
        return 'Bearer realm="ccpdash"'


def record_use(token: ApiToken) -> None:
    """Write the token's last use, at most once a minute."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > USE_RECORDED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
