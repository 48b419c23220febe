"""Alerts live: two supervisors on the real ASGI stack and Redis channel layer, and a real Celery worker."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from ccpdash.asgi import application
from contacts.alerts import queues as queue_alerts
from contacts.alerts.models import AlertAcknowledgement, QueueAlert, QueueAlertRule
from contacts.core import lifecycle
from contacts.core import permissions as roles
from contacts.core.lifecycle import Reason, Source
from contacts.core.models import Contact
from tests.alerts.support import ack, discards, make_user, queue_up
from tests.live.support import receive_type


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def open_socket(cookie: str) -> WebsocketCommunicator:
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver"), (b"cookie", f"sessionid={cookie}".encode())]
    communicator = WebsocketCommunicator(application, "/ws/dashboard", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def receive(communicator: WebsocketCommunicator, type_: str) -> dict:
    """The next message of `type_` (transition events of the set-up may come first)."""
    return await receive_type(communicator, type_)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
class LiveAlertTests:
    @pytest.mark.asyncio
    async def test_it_shows_an_acknowledgement_to_every_other_supervisor_at_once(self, django_user_model):
        users = await sync_to_async(lambda: [make_user(django_user_model, n, roles.SUPERVISORS) for n in ("a", "b")])()
        cookies = await sync_to_async(lambda: [session_cookie(user) for user in users])()
        first, second = [await open_socket(cookie) for cookie in cookies]
        row = await sync_to_async(lambda: discards(1)[0])()

        def acknowledge_as_first() -> None:
            client = Client()
            client.force_login(users[0])
            assert ack(client, f"d{row.pk}").status_code == 200

        await sync_to_async(acknowledge_as_first)()
        for communicator in (first, second):
            message = await receive(communicator, "alert.ack")
            (record,) = message["acks"]
            assert (record["alert"], record["user"], message["more"]) == (f"d{row.pk}", "a", False)
            assert record["id"] == await sync_to_async(lambda: AlertAcknowledgement.objects.get().pk)()
            await communicator.disconnect()

    @pytest.mark.asyncio
    async def test_it_broadcasts_a_queue_alert_when_raised_and_when_cleared(self, django_user_model):
        user = await sync_to_async(make_user)(django_user_model, "a", roles.SUPERVISORS)
        communicator = await open_socket(await sync_to_async(session_cookie)(user))

        def raise_one() -> list[Contact]:
            QueueAlertRule.objects.create(mrd_id=5000, max_queued=1)
            contacts = queue_up(2)
            queue_alerts.check()
            return contacts

        contacts = await sync_to_async(raise_one)()
        raised = (await receive(communicator, "alert.queue"))["alert"]
        assert (raised["code"], raised["cleared_at"]) == ("QUEUE_MAX_QUEUED", None)

        def clear() -> None:
            lifecycle.transition(contacts[0], "reserved", Reason.EXTERNALLY_ROUTED, source=Source.CCE)
            queue_alerts.check()

        await sync_to_async(clear)()
        cleared = (await receive(communicator, "alert.queue"))["alert"]
        assert cleared["key"] == raised["key"] and cleared["cleared_at"] is not None
        await communicator.disconnect()

    @pytest.mark.asyncio
    async def test_it_checks_the_queues_in_a_real_celery_worker(self, django_user_model, start_worker, monkeypatch):
        from tests.workers import WorkerProcess  # here: importing the plugin module early defeats its registration

        # --include: the worker knows the task even before contacts/tasks.py imports it (harmless after).
        command = WorkerProcess.command
        monkeypatch.setattr(WorkerProcess, "command", lambda w: [*command(w), "--include", "contacts.alerts.queues"])
        await sync_to_async(start_worker)(beat=False, concurrency=1)
        user = await sync_to_async(make_user)(django_user_model, "a", roles.SUPERVISORS)
        communicator = await open_socket(await sync_to_async(session_cookie)(user))

        def crowd_the_queue() -> None:
            # The waiting room has no ready agent: the worker's routing leaves its queue as it is.
            QueueAlertRule.objects.create(mrd_id=5002, max_queued=1)
            queue_up(2, mrd=5002, selector="Waiting")
            queue_alerts.check_queue_alerts.delay()

        await sync_to_async(crowd_the_queue)()
        message = await receive(communicator, "alert.queue")
        assert message["alert"]["code"] == "QUEUE_MAX_QUEUED"
        assert await sync_to_async(QueueAlert.objects.filter(cleared_at__isnull=True).count)() == 1
        await communicator.disconnect()
