"""Beat runs once across hosts: only the holder of the Redis beat lock sends the periodic tasks."""

from __future__ import annotations

import time
import uuid

import pytest
import redis
from django.conf import settings

from ccpdash.beat import BeatLock
from tests.polling import wait_for


@pytest.fixture
def client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@pytest.fixture
def key(client: redis.Redis):
    key = f"{settings.REDIS_PREFIX}:test-beat-lock:{uuid.uuid4().hex[:8]}"
    yield key
    client.delete(key)


class BeatLockTests:
    def test_one_holder_at_a_time_renewing_and_handing_over_on_release(self, client, key):
        first, second = BeatLock(client, key, 30), BeatLock(client, key, 30)
        assert first.hold() and not second.hold()
        assert first.hold()  # renewed
        second.release()  # not the holder: changes nothing
        assert not second.hold()
        first.release()
        assert second.hold() and not first.hold()

    def test_a_holder_that_stops_renewing_loses_the_lock_when_it_expires(self, client, key):
        dead, standby = BeatLock(client, key, 0.3), BeatLock(client, key, 0.3)
        assert dead.hold() and not standby.hold()
        wait_for(standby.hold, timeout=5)
        assert not dead.hold()


def sends(worker) -> int:
    try:
        return worker.log_path.read_text(errors="replace").count("Sending due task")
    except FileNotFoundError:
        return 0


@pytest.mark.django_db(transaction=True)
def test_two_beats_send_from_one_and_the_other_takes_over_when_it_dies(start_worker):
    first = start_worker(beat=True, queues=settings.PERIODIC_QUEUE)
    wait_for(lambda: sends(first) > 0, timeout=30)
    second = start_worker(beat=True, queues=settings.PERIODIC_QUEUE)
    time.sleep(3)  # three lock lifetimes of the test workers (BEAT_LOCK_SECONDS=1): the first kept it
    assert sends(first) > 1 and sends(second) == 0
    first.kill()
    wait_for(lambda: sends(second) > 0, timeout=30)
