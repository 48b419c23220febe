"""Wall board links: the revocable, view-only keys a kiosk screen opens `/wall/` with, stored hashed.

A screen on the wall is a kiosk, not a person: it has no account and no session. An admin creates a link
in the Django admin; its key is shown once (the admin's message) and only its SHA-256 is stored, so a
database dump holds no key that opens the board. The key opens `/wall/` and its socket and nothing else
(`contacts.wall.access`). Revoking a link closes the screens that use it at their next access check.

These models belong to the `contacts` app (imported at the bottom of `contacts/models.py`).
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class WallBoardLink(models.Model):
    name = models.CharField(max_length=100, help_text='Where the screen hangs, e.g. "Floor 2, north wall".')
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-id"]
        verbose_name = "wall board link"

    def __str__(self) -> str:
        return self.name

    @classmethod
    def create(cls, name: str, user=None) -> tuple[WallBoardLink, str]:
        """A new link and its key (the only time the key exists in the clear)."""
        key = secrets.token_urlsafe(32)
        return cls.objects.create(name=name, key_hash=key_hash(key), created_by=user), key

    def new_key(self) -> str:
        """Give an unsaved link its key (the admin's add form); the caller saves it."""
        key = secrets.token_urlsafe(32)
        self.key_hash = key_hash(key)
        return key

    @classmethod
    def find(cls, key: str) -> WallBoardLink | None:
        """The live (unrevoked) link of `key`, or None. Looked up by hash: the key itself is never stored."""
        if not key or len(key) > 200:
            return None
        return cls.objects.filter(key_hash=key_hash(key), revoked_at__isnull=True).first()

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None
