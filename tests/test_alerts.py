"""Alerts: which transitions raise them and where each one's fix is, grouping a burst, acknowledging (also live to a
second supervisor), the feed's resync after a gap, queue alerts raised and cleared, and who may do what.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ccpdash.asgi import application
from contacts import alert_feed, alerts, demo, lifecycle, queue_alerts, roles
from contacts.alerts_models import AlertAcknowledgement, QueueAlert, QueueAlertRule, QueueMetric
from contacts.cce.models import DialedNumber
from contacts.lifecycle import DISCARD_REASONS, Kind, Reason, Source, error_reasons
from contacts.models import Contact, Feed, FeedNotification, Transition

FEED_OF = {Kind.TASK: 100, Kind.CALLBACK: 200}


def make_contact(kind: str = Kind.TASK, selector: str = "NoScript", feed_id: int | None = None, **fields) -> Contact:
    feed = Feed.objects.get(id=feed_id or FEED_OF[kind])
    extra = {"script_selector": selector} if kind == Kind.TASK else {"media_address": "+15551234567"}
    return lifecycle.create(kind, feed, name=fields.pop("name", "Ada"), title="Order 4711", **extra, **fields)


def discard(contact: Contact, reason: str, mrd: int | None = 5000, selector: str | None = None) -> Transition:
    """The move the CCE makes, with the MRD and selector it used recorded on the contact."""
    used = selector if selector is not None else contact.script_selector
    changes = {"cce_mrd_id": mrd, "cce_script_selector": used}
    return lifecycle.transition(contact, "discarded", reason, source=Source.CCE, changes=changes)


def discards(count: int, reason: str = Reason.NO_SCRIPT, selector: str = "NoScript") -> list[Transition]:
    return [discard(make_contact(selector=selector, name=f"c{i}"), reason) for i in range(count)]


def make_user(django_user_model, username: str, group: str | None = None):
    user = django_user_model.objects.create_user(username, password="pw")
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def queue_up(count: int, mrd: int = 5000, age: timedelta | None = None, selector: str = "Sales") -> list[Contact]:
    contacts = []
    for i in range(count):
        contact = make_contact(selector=selector, name=f"q{i}")
        changes = {"cce_mrd_id": mrd}
        lifecycle.transition(contact, "queued", Reason.EXTERNALLY_ROUTED, source=Source.CCE, changes=changes)
        contacts.append(contact)
    if age:
        Contact.objects.filter(pk__in=[c.pk for c in contacts]).update(created_at=timezone.now() - age)
    return contacts


@pytest.fixture(autouse=True)
def demo_config(db):
    roles.ensure_role_groups()
    demo.seed_feeds()
    demo.seed_cce()


@pytest.fixture
def supervisor(django_user_model):
    return make_user(django_user_model, "sup", roles.SUPERVISORS)


@pytest.fixture
def sup_client(client, supervisor):
    client.force_login(supervisor)
    return client


def feed_of(client, **params) -> dict:
    response = client.get("/alerts/feed", {"discards": 0, "queue": 0, "acks": 0, **params})
    assert response.status_code == 200
    return response.json()


def ack(client, *keys: str, **fields):
    return client.post("/alerts/ack", {"alert": list(keys), **fields}, HTTP_ACCEPT="application/json")


@pytest.mark.django_db
class AlertRaisingTests:
    @pytest.mark.parametrize("kind", [Kind.TASK, Kind.CALLBACK])
    def test_it_raises_an_alert_for_every_error_code_of_the_kind(self, sup_client, kind):
        rows = {code: discard(make_contact(kind), code) for code in sorted(error_reasons(kind))}
        assert all(alerts.is_alert(row) for row in rows.values())
        listed = {alert["key"]: alert for alert in feed_of(sup_client)["alerts"]}
        for code, row in rows.items():
            alert = listed[f"d{row.pk}"]
            assert (alert["kind"], alert["code"], alert["ack"]) == ("discard", code, None)
            assert (alert["cause"], alert["fix"]) == (DISCARD_REASONS[code].cause, DISCARD_REASONS[code].fix)

    @pytest.mark.parametrize(
        ("kind", "requested", "succeeded"),
        [
            (Kind.TASK, Reason.TASK_CANCEL_REQUESTED, Reason.TASK_CANCEL_SUCCEEDED),
            (Kind.CALLBACK, Reason.CALLBACK_CANCEL_REQUESTED, Reason.CALLBACK_CANCEL_SUCCEEDED),
        ],
    )
    def test_it_raises_no_alert_for_a_cancel_that_succeeded(self, sup_client, kind, requested, succeeded):
        contact = make_contact(kind)
        lifecycle.transition(contact, "queued", requested, source=Source.API)
        row = lifecycle.transition(contact, "discarded", succeeded, source=Source.CCE)
        assert not alerts.is_alert(row)
        assert feed_of(sup_client)["alerts"] == []

    def test_it_raises_no_alert_for_progress(self, sup_client):
        contact = make_contact(selector="Sales")
        row = lifecycle.transition(contact, "queued", Reason.EXTERNALLY_ROUTED, source=Source.CCE)
        assert not alerts.is_alert(row) and feed_of(sup_client)["alerts"] == []

    def test_it_links_the_contact_of_the_alert(self, sup_client):
        row = discard(make_contact(name="Ada Lovelace"), Reason.NO_SCRIPT)
        contact = feed_of(sup_client)["alerts"][0]["contact"]
        public_id = row.contact.public_id
        assert contact == {"id": public_id, "name": "Ada Lovelace", "url": f"/contacts/{public_id}"}


@pytest.mark.django_db
class FixLinkTests:
    def link(self, reason: str, kind: str = Kind.TASK, selector: str = "NoScript", mrd: int | None = 5000, **kw):
        contact = make_contact(kind, selector=selector, **kw)
        discard(contact, reason, mrd=mrd, selector=selector if kind == Kind.TASK else "CallbackDN")
        contact.refresh_from_db()
        return alerts.fix_link(contact, reason), contact

    def test_it_links_an_existing_script_selector_to_its_change_page(self):
        link, _ = self.link(Reason.NO_SCRIPT)
        pk = DialedNumber.objects.get(string="NoScript").pk
        assert link.url == f"/admin/contacts/dialednumber/{pk}/change/"
        assert (link.label, link.scope) == ("Open script selector NoScript", "in NoScript")

    def test_it_links_a_missing_script_selector_to_the_add_page_prefilled(self):
        link, _ = self.link(Reason.INVALID_SCRIPT_SELECTOR, selector="Nowhere", mrd=None)
        assert link.url == "/admin/contacts/dialednumber/add/?string=Nowhere"
        assert link.label == "Create script selector Nowhere"

    def test_it_links_a_failing_script_to_its_script_selector(self):
        link, _ = self.link(Reason.UNKNOWN_ERROR, selector="Faulty")
        assert link.url == f"/admin/contacts/dialednumber/{DialedNumber.objects.get(string='Faulty').pk}/change/"

    @pytest.mark.parametrize("reason", [Reason.MEDIA_ROUTING_DISABLED, Reason.ROUTER_RELEASED_TASK])
    def test_it_links_mrd_causes_to_the_mrd(self, reason):
        link, _ = self.link(reason, selector="EmailDN", mrd=5001)
        assert link.url == "/admin/contacts/mediaroutingdomain/5001/change/"
        assert (link.label, link.scope) == ("Open MRD 5001 Email", "in MRD 5001")

    def test_it_links_an_invalid_mrd_to_the_feed_and_offers_to_create_the_mrd(self):
        link, _ = self.link(Reason.INVALID_MRD_ID, kind=Kind.CALLBACK, feed_id=201, mrd=9999)
        assert link.url == "/admin/contacts/feed/201/change/"
        assert (link.label, link.scope) == ("Fix the notification of feed 201", "on feed 201")
        assert link.alternative.url == "/admin/contacts/mediaroutingdomain/add/?id=9999"
        assert link.alternative.label == "Create MRD 9999"

    def test_it_asks_for_a_notification_when_the_feed_has_none(self):
        FeedNotification.objects.filter(feed_id=200).delete()
        link, _ = self.link(Reason.INVALID_MRD_ID, kind=Kind.CALLBACK, mrd=None)
        assert link.url == "/admin/contacts/feed/200/change/"
        assert (link.label, link.alternative) == ("Add a CCE notification to feed 200", None)

    @pytest.mark.parametrize("reason", [Reason.CCE_CONNECTION_FAILURE, Reason.RATE_LIMITED])
    def test_it_links_connection_and_rate_causes_to_the_cce_settings(self, reason):
        link, _ = self.link(reason)
        assert (link.url, link.scope) == ("/admin/contacts/ccesettings/1/change/", "")

    @pytest.mark.parametrize(
        "reason", [Reason.INVALID_NEW_TASK_MESSAGE, Reason.INVALID_FIELD_LENGTH, Reason.CCE_CCP_FAILOVER]
    )
    def test_it_links_request_faults_to_the_contact_itself(self, reason):
        link, contact = self.link(reason, selector="Sales")
        assert (link.url, link.scope) == (f"/contacts/{contact.public_id}", "on feed 100")

    def test_it_opens_every_linked_admin_page_for_a_superuser(self, client, django_user_model):
        client.force_login(django_user_model.objects.create_superuser("root", password="pw"))
        cases = [
            (Reason.NO_SCRIPT, "NoScript", 5000),
            (Reason.MEDIA_ROUTING_DISABLED, "EmailDN", 5001),
            (Reason.RATE_LIMITED, "Sales", 5000),
        ]
        for reason, selector, mrd in cases:
            link, _ = self.link(reason, selector=selector, mrd=mrd)
            assert client.get(link.url).status_code == 200, link.url
        add, _ = self.link(Reason.INVALID_SCRIPT_SELECTOR, selector="Nowhere", mrd=None)
        assert 'value="Nowhere"' in client.get(add.url).content.decode()
        feed, _ = self.link(Reason.INVALID_MRD_ID, kind=Kind.CALLBACK, feed_id=201, mrd=9999)
        assert client.get(feed.url).status_code == 200
        assert 'value="9999"' in client.get(feed.alternative.url).content.decode()

    def test_it_reads_the_configuration_once_for_a_whole_feed(self, sup_client):
        def queries() -> int:
            with CaptureQueriesContext(connection) as captured:
                feed_of(sup_client)
            return len(captured)

        discards(3)
        few = queries()
        discards(30, Reason.INVALID_SCRIPT_SELECTOR, selector="Nowhere")
        assert queries() == few


@pytest.mark.django_db
class GroupingTests:
    def test_it_groups_a_burst_by_code_and_where_the_cause_is(self, sup_client):
        discards(14, selector="NoScript")
        discard(make_contact(selector="Support"), Reason.NO_SCRIPT)
        discards(2, Reason.RATE_LIMITED, selector="Sales")
        groups = alerts.summarize(feed_of(sup_client)["alerts"])
        assert [group["text"] for group in groups] == [
            "2 × NOTIFICATION_RATE_LIMITED",
            "1 × NOTIFICATION_NO_SCRIPT in Support",
            "14 × NOTIFICATION_NO_SCRIPT in NoScript",
        ]

    def test_it_keeps_every_key_of_a_group_and_its_newest_alert(self, sup_client):
        rows = discards(3)
        (group,) = alerts.summarize(feed_of(sup_client)["alerts"])
        assert group["keys"] == [f"d{row.pk}" for row in rows]
        assert group["latest"]["contact"]["name"] == "c2"

    def test_it_groups_mrd_causes_by_mrd(self, sup_client):
        for _ in range(2):
            discard(make_contact(selector="EmailDN"), Reason.MEDIA_ROUTING_DISABLED, mrd=5001)
        assert [group["text"] for group in alerts.summarize(feed_of(sup_client)["alerts"])] == [
            "2 × NOTIFICATION_MEDIA_ROUTING_DISABLED in MRD 5001"
        ]


@pytest.mark.django_db
class AcknowledgementTests:
    def test_it_records_who_acknowledged_and_every_supervisor_sees_it(self, sup_client, supervisor, django_user_model):
        row = discards(1)[0]
        response = ack(sup_client, f"d{row.pk}")
        assert response.status_code == 200
        (record,) = response.json()["acks"]
        assert (record["alert"], record["user"]) == (f"d{row.pk}", "sup")
        other = Client()
        other.force_login(make_user(django_user_model, "sup2", roles.SUPERVISORS))
        body = feed_of(other)
        assert body["alerts"][0]["ack"] == record and body["acks"] == [record]

    def test_it_keeps_the_first_acknowledgement(self, sup_client, django_user_model):
        row = discards(1)[0]
        first = ack(sup_client, f"d{row.pk}").json()["acks"]
        other = Client()
        other.force_login(make_user(django_user_model, "sup2", roles.SUPERVISORS))
        assert ack(other, f"d{row.pk}").json()["acks"] == first
        assert AlertAcknowledgement.objects.get().user.username == "sup"

    def test_it_writes_an_audit_entry_for_each_acknowledgement_it_made(self, sup_client, django_user_model):
        from contacts.workflow_models import AuditEntry

        row = discards(1)[0]
        ack(sup_client, f"d{row.pk}")
        other = Client()
        other.force_login(make_user(django_user_model, "sup2", roles.SUPERVISORS))
        ack(other, f"d{row.pk}")  # too late: the first acknowledgement stays, and only it is audited
        (entry,) = AuditEntry.objects.all()
        assert (entry.action, entry.username, entry.source) == ("acknowledge", "sup", "dashboard")
        assert (entry.contact_id, entry.details) == (row.contact_id, {"alert": f"d{row.pk}"})

    def test_it_acknowledges_a_whole_burst_at_once(self, sup_client):
        keys = [f"d{row.pk}" for row in discards(14)]
        body = ack(sup_client, *keys).json()
        assert sorted(a["alert"] for a in body["acks"]) == sorted(keys) and body["unacknowledged"] == 0

    def test_it_acknowledges_nothing_that_is_not_an_alert(self, sup_client):
        contact = make_contact()
        lifecycle.transition(contact, "queued", Reason.TASK_CANCEL_REQUESTED, source=Source.API)
        row = lifecycle.transition(contact, "discarded", Reason.TASK_CANCEL_SUCCEEDED, source=Source.CCE)
        assert ack(sup_client, f"d{row.pk}", "q999").json()["acks"] == []
        assert not AlertAcknowledgement.objects.exists()
        assert ack(sup_client, "x1").status_code == 400

    def test_it_acknowledges_all_the_page_has_seen_and_nothing_newer(self, sup_client):
        seen = discards(3)
        later = discards(1)[0]
        body = ack(sup_client, all="1", discards_upto=seen[-1].pk, queue_upto=0).json()
        assert sorted(a["alert"] for a in body["acks"]) == sorted(f"d{row.pk}" for row in seen)
        assert body["unacknowledged"] == 1 and not AlertAcknowledgement.objects.filter(transition=later).exists()

    def test_it_counts_unacknowledged_alerts_of_the_horizon_only(self, sup_client):
        old, recent = discards(2)
        too_old = timezone.now() - alert_feed.HORIZON - timedelta(minutes=1)
        Transition.objects.filter(pk=old.pk).update(created_at=too_old)
        assert feed_of(sup_client)["unacknowledged"] == 1
        ack(sup_client, f"d{recent.pk}")
        assert feed_of(sup_client)["unacknowledged"] == 0

    def test_it_redirects_a_form_post_without_javascript_back_to_the_list(self, sup_client):
        row = discards(1)[0]
        response = sup_client.post("/alerts/ack", {"alert": f"d{row.pk}"})
        assert (response.status_code, response["Location"]) == (302, "/#alerts")
        response = sup_client.post("/alerts/ack", {"alert": f"d{row.pk}", "next": "https://evil.example/"})
        assert response["Location"] == "/#alerts"

    def test_it_shows_who_acknowledged_on_the_first_paint(self, sup_client):
        row = discards(1)[0]
        ack(sup_client, f"d{row.pk}")
        page = sup_client.get("/").content.decode()
        assert f'data-key="d{row.pk}"' in page and "Acknowledged by sup" in page


@pytest.mark.django_db
class AlertPermissionTests:
    def test_it_answers_401_to_an_anonymous_acknowledgement(self, client):
        row = discards(1)[0]
        assert ack(client, f"d{row.pk}").status_code == 401

    def test_it_forbids_acknowledging_without_the_permission(self, client, django_user_model):
        user = django_user_model.objects.create_user("viewer")
        user.user_permissions.add(*roles.Permission.objects.filter(codename="view_dashboard"))
        client.force_login(user)
        row = discards(1)[0]
        assert ack(client, f"d{row.pk}").status_code == 403
        page = client.get("/").content.decode()
        assert "Not acknowledged" in page and ">Acknowledge<" not in page

    @pytest.mark.parametrize("group", [roles.SUPERVISORS, roles.ADMINS])
    def test_it_lets_supervisors_and_admins_acknowledge(self, client, django_user_model, group):
        client.force_login(make_user(django_user_model, "u", group))
        row = discards(1)[0]
        assert ack(client, f"d{row.pk}").status_code == 200

    def test_it_refuses_an_acknowledgement_without_the_csrf_token(self, supervisor):
        client = Client(enforce_csrf_checks=True)
        client.force_login(supervisor)
        row = discards(1)[0]
        assert ack(client, f"d{row.pk}").status_code == 403
        assert not AlertAcknowledgement.objects.exists()

    def test_it_refuses_a_get(self, sup_client):
        assert sup_client.get("/alerts/ack").status_code == 405

    def test_it_keeps_the_feed_to_dashboard_viewers(self, client, django_user_model):
        assert client.get("/alerts/feed").status_code == 401
        client.force_login(django_user_model.objects.create_user("nobody"))
        assert client.get("/alerts/feed").status_code == 403


@pytest.mark.django_db
class ResyncTests:
    def test_it_returns_every_alert_and_acknowledgement_after_the_ids_minus_the_window(self, sup_client):
        rows = discards(30)
        acks = [ack(sup_client, f"d{row.pk}").json()["acks"][0]["id"] for row in rows[:12]]
        # The page saw alerts up to rows[19] and acknowledgements up to acks[7]; it reaches back 5 ids.
        body = feed_of(sup_client, discards=rows[19].pk - 5, acks=acks[7] - 5)
        assert [a["id"] for a in body["alerts"]] == [row.pk for row in rows if row.pk > rows[19].pk - 5]
        assert [a["id"] for a in body["acks"]] == [i for i in acks if i > acks[7] - 5]
        assert body["cursors"]["discards"] == Transition.objects.latest("id").pk
        assert body["cursors"]["acks"] == acks[-1] and body["more"] is False

    def test_it_pages_on_from_the_cursors_without_gaps(self, sup_client):
        rows = discards(12)
        seen, params = [], {"discards": 0}
        while True:
            body = feed_of(sup_client, limit=5, **params)
            seen += [a["id"] for a in body["alerts"]]
            if not body["more"]:
                break
            params = body["cursors"]
        assert seen == [row.pk for row in rows]

    def test_it_returns_the_present_state_of_queue_alerts_the_page_holds_open(self, sup_client):
        QueueAlertRule.objects.create(mrd_id=5000, max_queued=1)
        contacts = queue_up(2)
        (raised,) = queue_alerts.check()
        cursor = feed_of(sup_client)["cursors"]["queue"]
        lifecycle.transition(contacts[0], "reserved", Reason.EXTERNALLY_ROUTED, source=Source.CCE)
        queue_alerts.check()  # cleared while the page was away
        body = feed_of(sup_client, queue=cursor, open=str(raised.pk))
        assert [(a["key"], a["cleared_at"] is not None) for a in body["alerts"]] == [(f"q{raised.pk}", True)]

    def test_it_rejects_bad_cursors(self, sup_client):
        assert sup_client.get("/alerts/feed", {"discards": "x"}).status_code == 400
        assert sup_client.get("/alerts/feed", {"open": "1;2"}).status_code == 400


@pytest.mark.django_db
class QueueAlertTests:
    def test_it_raises_once_when_the_queue_crosses_its_maximum_and_clears_when_back_under(self):
        QueueAlertRule.objects.create(mrd_id=5000, max_queued=2)
        contacts = queue_up(2)
        assert queue_alerts.check() == []
        contacts += queue_up(1)
        (alert,) = queue_alerts.check()
        assert (alert.metric, alert.value, alert.threshold, alert.cleared_at) == (QueueMetric.QUEUED, 3, 2, None)
        assert queue_alerts.check() == []  # still crossed: the same alert stays open
        lifecycle.transition(contacts[0], "reserved", Reason.EXTERNALLY_ROUTED, source=Source.CCE)
        (cleared,) = queue_alerts.check()
        assert cleared.pk == alert.pk and QueueAlert.objects.get().cleared_at is not None
        queue_up(1)
        (again,) = queue_alerts.check()
        assert again.pk != alert.pk and QueueAlert.objects.count() == 2

    def test_it_raises_when_the_oldest_contact_waits_too_long(self, sup_client):
        QueueAlertRule.objects.create(mrd_id=5000, max_oldest_seconds=60)
        queue_up(1, age=timedelta(seconds=30))
        assert queue_alerts.check() == []
        queue_up(1, age=timedelta(minutes=3))
        (alert,) = queue_alerts.check()
        assert alert.metric == QueueMetric.OLDEST and alert.value >= 180
        (listed,) = feed_of(sup_client)["alerts"]
        assert (listed["code"], listed["group"]) == ("QUEUE_MAX_OLDEST", "QUEUE_MAX_OLDEST in MRD 5000")
        assert listed["contact"] is None
        assert listed["cause"].startswith("The oldest contact in MRD 5000 Chat waited 3m")
        assert listed["link"]["url"] == "/admin/contacts/agent/?mrd__id__exact=5000"

    def test_it_clears_open_alerts_when_the_rule_is_disabled_or_deleted(self):
        rule = QueueAlertRule.objects.create(mrd_id=5000, max_queued=1)
        queue_up(2)
        queue_alerts.check()
        rule.enabled = False
        rule.save()
        assert len(queue_alerts.check()) == 1
        rule.enabled = True
        rule.save()
        queue_alerts.check()
        rule.delete()
        assert len(queue_alerts.check()) == 1 and not QueueAlert.objects.filter(cleared_at__isnull=True).exists()

    def test_it_keeps_one_open_alert_per_mrd_and_metric_in_the_database(self):
        QueueAlert.objects.create(mrd_id=5000, metric=QueueMetric.QUEUED, threshold=1, value=2)
        assert queue_alerts.raise_alert(5000, QueueMetric.QUEUED, 1, 3, timezone.now()) == []
        with pytest.raises(IntegrityError), transaction.atomic():
            QueueAlert.objects.create(mrd_id=5000, metric=QueueMetric.QUEUED, threshold=1, value=2)

    def test_it_makes_queue_alerts_acknowledgeable_and_counted(self, sup_client):
        QueueAlertRule.objects.create(mrd_id=5000, max_queued=1)
        queue_up(2)
        (alert,) = queue_alerts.check()
        assert feed_of(sup_client)["unacknowledged"] == 1
        body = ack(sup_client, f"q{alert.pk}").json()
        assert body["acks"][0]["alert"] == f"q{alert.pk}" and body["unacknowledged"] == 0

    def test_it_asks_for_a_threshold_in_the_admin(self):
        from django.core.exceptions import ValidationError

        with pytest.raises(ValidationError):
            QueueAlertRule(mrd_id=5000).full_clean()


@pytest.mark.django_db
class RoleTests:
    @pytest.mark.parametrize("group", [roles.SUPERVISORS, roles.ADMINS])
    def test_it_gives_the_acknowledge_permission_to_supervisors_and_admins(self, django_user_model, group):
        assert make_user(django_user_model, "u", group).has_perm("contacts.acknowledge_alert")

    def test_it_lets_admins_configure_queue_alert_rules(self, django_user_model):
        user = make_user(django_user_model, "u", roles.ADMINS)
        assert user.has_perm("contacts.add_queuealertrule") and user.has_perm("contacts.change_queuealertrule")


# --- live: two supervisors on the real ASGI stack and Redis channel layer ------------------------------------


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def open_socket(cookie: str) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver"), (b"cookie", f"sessionid={cookie}".encode())]
    communicator = WebsocketCommunicator(application, "/ws/dashboard", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def receive(communicator: WebsocketCommunicator, type_: str) -> dict:
    """The next message of `type_` (transition events of the set-up may come first)."""
    while True:
        message = await communicator.receive_json_from(timeout=5)
        if message["type"] == type_:
            return message


@pytest.mark.django_db(transaction=True)
class LiveAlertTests:
    @pytest_asyncio.fixture(autouse=True)
    async def close_thread_connections(self):
        yield
        await sync_to_async(connections.close_all)()

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
        monkeypatch.setattr(WorkerProcess, "command", lambda w: [*command(w), "--include", "contacts.queue_alerts"])
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
