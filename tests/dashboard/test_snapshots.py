"""contacts.dashboard.snapshots: the overview and the alert news, computed once per interval, pushed to every socket."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from contacts.core import permissions as roles
from contacts.core.health import redis_client
from contacts.core.lifecycle import Reason
from contacts.core.models import Feed, FeedType
from contacts.dashboard import overview, snapshots
from contacts.live.sender import sender
from tests.alerts.support import discards
from tests.live.support import receive_type
from tests.live.test_consumers import make_user, open_socket, session_cookie


@pytest.fixture(autouse=True)
def fresh_state(transactional_db):
    redis_client(settings.REDIS_URL).delete(snapshots.state_key())
    Feed.objects.create(id=100, name="tasks", type=FeedType.TASK)
    yield
    redis_client(settings.REDIS_URL).delete(snapshots.state_key())


@pytest.fixture
def cookie(django_user_model) -> str:
    return session_cookie(make_user(django_user_model, "sup", roles.SUPERVISORS))


def push() -> bool:
    pushed = snapshots.push_snapshots()
    assert sender().flush(10)
    return pushed


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
class SnapshotTests:
    @pytest.mark.asyncio
    async def test_it_is_computed_once_and_reaches_every_socket(self, cookie, monkeypatch):
        computed = []
        real = overview.overview
        monkeypatch.setattr(overview, "overview", lambda: computed.append(1) or real())
        sockets = [(await open_socket(cookie))[0] for _ in range(4)]
        assert await sync_to_async(push)() is True
        assert len(computed) == 1  # four sockets, one computation
        for socket in sockets:
            pushed = (await receive_type(socket, "overview.snapshot"))["overview"]
            assert pushed["version"] > 0 and {"groupings", "agents", "backlog", "last_id"} <= set(pushed)
            assert (await receive_type(socket, "alerts.snapshot"))["unacknowledged"] == 0
            await socket.disconnect()

    @pytest.mark.asyncio
    async def test_a_discard_comes_with_the_next_alerts_snapshot_after_the_previous_cursors(self, cookie):
        (socket, _) = await open_socket(cookie)
        await sync_to_async(push)()
        first = await receive_type(socket, "alerts.snapshot")
        rows = await sync_to_async(lambda: discards(2, Reason.NO_SCRIPT))()
        await sync_to_async(push)()
        second = await receive_type(socket, "alerts.snapshot")
        assert second["since"] == first["cursors"]  # a page that has the first applies the second
        assert {alert["id"] for alert in second["alerts"] if alert["kind"] != "queue"} >= {row.pk for row in rows}
        assert second["cursors"]["discards"] >= rows[-1].pk and second["unacknowledged"] == 2
        assert second["more"] is False
        await socket.disconnect()

    def test_nothing_is_pushed_when_nothing_moved_until_the_idle_interval(self, monkeypatch):
        assert push() is True
        assert push() is False  # no new transition, alert or acknowledgement
        discards(1)
        assert push() is True
        monkeypatch.setattr(snapshots, "IDLE_SECONDS", 0)
        assert push() is True  # ages and the 15-minute windows move on their own

    def test_the_alert_groups_move_with_new_alerts_and_otherwise_every_few_seconds(self, monkeypatch):
        sent: list[str] = []
        real = snapshots.broadcast.send
        monkeypatch.setattr(snapshots.broadcast, "send",
                            lambda group, message: sent.append(message["type"]) or real(group, message))
        monkeypatch.setattr(snapshots, "IDLE_SECONDS", 0)  # a snapshot every time, as under load

        def groups_sent() -> int:
            count = sent.count("alerts.groups")
            sent.clear()
            return count

        push()
        assert groups_sent() == 1  # the first
        push()
        assert groups_sent() == 0  # moves but no alert: the groups wait for GROUPS_SECONDS
        discards(1)
        push()
        assert groups_sent() == 1  # a new alert: at once
        monkeypatch.setattr(snapshots, "GROUPS_SECONDS", 0)
        push()
        assert groups_sent() == 1  # the interval passed: a resolution shows within it
