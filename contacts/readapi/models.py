"""Personal API tokens: named, revocable keys a user's scripts read the API with, stored as a prefix and a hash.

A token reads as `ccpd_<prefix>_<secret>`: the prefix (8 hex digits) is not secret, finds the row by index and
names the token on its owner's page; the secret is 256 random bits. Only the SHA-256 of the whole token is
stored: tokens are random, not chosen by people, so a fast hash is enough (a slow KDF guards guessable
passwords) and a database dump holds nothing that reads the API. The plaintext exists once, when it is made.
A token acts with its user's permissions, whatever they are at the time of the request.

These models belong to the `contacts` app (imported in `contacts/models.py`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

SCHEME = "ccpd"
PREFIX_LENGTH = 8
TOKEN_FORMAT = re.compile(rf"{SCHEME}_(?P<prefix>[0-9a-f]{{{PREFIX_LENGTH}}})_[A-Za-z0-9_-]{{43}}")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text='What uses it, e.g. "Floor 2 wall board script".')
    prefix = models.CharField(max_length=PREFIX_LENGTH, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.shown_prefix})"

    @classmethod
    def create(cls, user, name: str) -> tuple[ApiToken, str]:
        """A new token of `user` and its plaintext (the only time it exists in the clear)."""
        while True:
            prefix = secrets.token_hex(PREFIX_LENGTH // 2)
            if not cls.objects.filter(prefix=prefix).exists():
                break
        token = f"{SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
        return cls.objects.create(user=user, name=name, prefix=prefix, key_hash=token_hash(token)), token

    @classmethod
    def find(cls, token: str) -> ApiToken | None:
        """The token `token` is (revoked or not: the caller tells), with its user; None for a wrong one."""
        match = TOKEN_FORMAT.fullmatch(token)
        if match is None:
            return None
        found = cls.objects.select_related("user").filter(prefix=match["prefix"]).first()
        # Compared in constant time: the prefix is public, so the hash is all that tells a guess from the token.
        if found is None or not hmac.compare_digest(found.key_hash, token_hash(token)):
            return None
        return found

    @property
    def shown_prefix(self) -> str:
        """What the token starts with: enough to recognise it, nothing that opens the API."""
        return f"{SCHEME}_{self.prefix}_…"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def revoke(self) -> bool:
        """Revoke it now; False if it already was (compare-and-set: a double click revokes once)."""
        now = timezone.now()
        done = ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(revoked_at=now)
        if done:
            self.revoked_at = now
        return bool(done)
