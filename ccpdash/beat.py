"""Celery beat that sends the periodic tasks from one process across all hosts: the holder of a lock in Redis.

Every host may run beat (a standby beside each worker, an embedded `-B` in the tests): each one ticks,
but only the process holding `{REDIS_PREFIX}:beat-lock` sends anything. The holder renews the lock on
every tick (beat ticks at least every BEAT_LOCK_SECONDS / 3, settings.CELERY_BEAT_MAX_INTERVAL); when it
stops or dies the lock expires after BEAT_LOCK_SECONDS and the next beat to tick takes over. A beat that
stops cleanly gives the lock up at once. While Redis cannot be reached no beat sends: the broker is that
same Redis, so nothing could be sent anyway.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid

import redis
from celery.beat import PersistentScheduler
from django.conf import settings

log = logging.getLogger(__name__)

# Renew or take: extend the lock only while it is still ours (a compare-and-extend, atomic in Redis).
_EXTEND = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class BeatLock:
    """A lock with a time to live, held by one `holder` at a time; `hold()` takes or renews it."""

    def __init__(self, client: redis.Redis, key: str, seconds: float, holder: str | None = None) -> None:
        self.client, self.key, self.seconds = client, key, seconds
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def hold(self) -> bool:
        """True if this holder has the lock now (taken or renewed for another `seconds`)."""
        ttl_ms = max(1, int(self.seconds * 1000))
        if self.client.set(self.key, self.holder, nx=True, px=ttl_ms):
            return True
        return bool(self.client.eval(_EXTEND, 1, self.key, self.holder, ttl_ms))

    def release(self) -> None:
        self.client.eval(_RELEASE, 1, self.key, self.holder)


class SingleBeatScheduler(PersistentScheduler):
    """PersistentScheduler that sends due tasks only while it holds the beat lock (settings.CELERY_BEAT_SCHEDULER)."""

    def __init__(self, *args, **kwargs) -> None:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        self.lock = BeatLock(client, f"{settings.REDIS_PREFIX}:beat-lock", settings.BEAT_LOCK_SECONDS)
        self.holding = False
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs) -> float:
        try:
            held = self.lock.hold()
        except redis.RedisError as error:
            held = False
            log.warning("beat lock unknown (%s): sending nothing until Redis answers", error)
        if held != self.holding:
            log.info("beat %s the lock %s as %s", "took" if held else "lost", self.lock.key, self.lock.holder)
            self.holding = held
        if not held:
            return min(self.max_interval, self.lock.seconds / 3)
        return min(super().tick(*args, **kwargs), self.lock.seconds / 3)

    def close(self) -> None:
        try:
            if self.holding:
                self.lock.release()
        except redis.RedisError:
            pass  # it expires on its own
        super().close()
