"""Who may see the wall board: a signed-in user with the dashboard permission, or a screen with a live link's key.

The key arrives once in the link (`/wall/?key=…`); the page then keeps it in a cookie scoped to `/wall`
(HttpOnly, SameSite=Lax), so it leaves the address bar and the access log, and reaches only the board's
page, its data and its socket (`/wall/ws`): no other view reads it, so the key grants nothing else.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from contacts.core.permissions import VIEW_DASHBOARD

from .models import WallBoardLink

COOKIE = "ccpdash_wall"
COOKIE_PATH = "/wall"
COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest a browser keeps a cookie: a screen runs for months
# How often a link's last use is written (a board reads its data on every reconnect).
USE_RECORDED_EVERY = timedelta(minutes=1)


def link_of(key: str | None) -> WallBoardLink | None:
    """The live link of `key`, its last use recorded (at most once a minute)."""
    link = WallBoardLink.find(key or "")
    if link is not None and (link.last_used_at is None or timezone.now() - link.last_used_at > USE_RECORDED_EVERY):
        link.last_used_at = timezone.now()
        WallBoardLink.objects.filter(pk=link.pk).update(last_used_at=link.last_used_at)
    return link


def allowed(user, key: str | None) -> bool:
    """A board may be shown to a user who may see the dashboard, or to the holder of a live link's key."""
    if user is not None and user.is_authenticated and user.has_perm(VIEW_DASHBOARD):
        return True
    return link_of(key) is not None


def set_key_cookie(response, key: str, secure: bool) -> None:
    response.set_cookie(COOKIE, key, max_age=COOKIE_MAX_AGE, path=COOKIE_PATH, secure=secure, httponly=True,
                        samesite="Lax")
