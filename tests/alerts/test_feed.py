"""Reading and acknowledging alerts (contacts.alerts.feed and views): acks, who may, the resync feed, roles."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from contacts.alerts import feed as alert_feed
from contacts.alerts import queues as queue_alerts
from contacts.alerts.models import AlertAcknowledgement, QueueAlertRule
from contacts.core import lifecycle
from contacts.core import permissions as roles
from contacts.core.lifecycle import Reason, Source
from contacts.core.models import Transition
from tests.alerts.support import ack, discards, feed_of, make_contact, make_user, queue_up


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
        from contacts.workflows.models import AuditEntry

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

    def test_it_redirects_to_a_next_that_is_a_word_not_a_view_name(self, sup_client):
        row = discards(1)[0]
        response = sup_client.post("/alerts/ack", {"alert": f"d{row.pk}", "next": "xxx"})  # was NoReverseMatch, 500
        assert (response.status_code, response["Location"]) == (302, "xxx")

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
class RoleTests:
    @pytest.mark.parametrize("group", [roles.SUPERVISORS, roles.ADMINS])
    def test_it_gives_the_acknowledge_permission_to_supervisors_and_admins(self, django_user_model, group):
        assert make_user(django_user_model, "u", group).has_perm("contacts.acknowledge_alert")

    def test_it_lets_admins_configure_queue_alert_rules(self, django_user_model):
        user = make_user(django_user_model, "u", roles.ADMINS)
        assert user.has_perm("contacts.add_queuealertrule") and user.has_perm("contacts.change_queuealertrule")
