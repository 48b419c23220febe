"""Polling a task's or callback's status through the CCP-compatible API on both path families, and its expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from contacts.core.models import Contact
from tests.api.support import (
    HANDLED,
    HOST,
    QUEUED_ROUTED,
    created,
    place,
    status_url,
    xml_errors,
    xml_fields,
)


@pytest.mark.django_db
class TaskStatusTests:
    def test_it_answers_the_current_family_in_upper_case(self, client, feeds):
        contact = created(client)
        place(contact, "queued", "EXTERNALLY_ROUTED", estimated_wait=42)
        response = client.get(status_url(contact))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/xml"
        assert xml_fields(response) == {
            "root": "Task", "status": "QUEUED", "statusReason": "EXTERNALLY_ROUTED", "estimatedWaitTime": "42",
        }

    def test_it_answers_minus_one_while_the_wait_is_unknown(self, client, feeds):
        contact = created(client)
        place(contact, *QUEUED_ROUTED)
        assert xml_fields(client.get(status_url(contact)))["estimatedWaitTime"] == "-1"

    def test_it_leaves_out_the_wait_when_not_queued(self, client, feeds):
        contact = created(client)
        assert xml_fields(client.get(status_url(contact))) == {"root": "Task", "status": "UNREAD", "statusReason": ""}

    @pytest.mark.parametrize("position", [("reserved", "EXTERNALLY_ROUTED"), HANDLED])
    def test_it_names_task_and_agent_once_reserved_or_handled(self, client, feeds, position):
        contact = created(client)
        place(contact, *position, cce_task_id="5000_1187_3", agent_id="1081", estimated_wait=3)
        fields = xml_fields(client.get(status_url(contact)))
        assert (fields["taskID"], fields["agentID"]) == ("5000_1187_3", "1081")
        assert "estimatedWaitTime" not in fields

    def test_it_answers_json_when_asked(self, client, feeds):
        contact = created(client)
        place(contact, "reserved", "EXTERNALLY_ROUTED", cce_task_id="5000_1187_3", agent_id="1081")
        response = client.get(status_url(contact), HTTP_ACCEPT="application/json")
        assert response["Content-Type"] == "application/json"
        assert response.json() == {
            "status": "RESERVED", "statusReason": "EXTERNALLY_ROUTED", "taskID": "5000_1187_3", "agentID": "1081",
        }

    def test_it_answers_the_socialminer_family_as_a_social_contact(self, client, feeds):
        contact = created(client, family="sm")
        place(contact, "discarded", "NOTIFICATION_NO_SCRIPT")
        response = client.get(status_url(contact, "sm"))
        assert xml_fields(response) == {
            "root": "SocialContact", "id": contact.public_id, "refURL": f"{HOST}{status_url(contact, 'sm')}",
            "author": "Ada Lovelace", "title": "Order 4711 question", "status": "discarded",
            "statusReason": "notification_no_script",
        }

    def test_it_gives_the_wait_in_the_socialminer_family_while_queued(self, client, feeds):
        contact = created(client)
        place(contact, *QUEUED_ROUTED, estimated_wait=7)
        response = client.get(status_url(contact, "sm"), HTTP_ACCEPT="application/json")
        assert response.json()["estimatedWaitTime"] == 7
        assert response.json()["status"] == "queued"

    def test_it_ignores_a_body_and_content_type_on_get(self, client, feeds):
        contact = created(client)
        response = client.generic("GET", status_url(contact), b"\xff<!DOCTYPE x>", content_type="application/json")
        assert response.status_code == 200 and xml_fields(response)["status"] == "UNREAD"

    def test_it_records_the_poll(self, client, feeds):
        contact = created(client)
        client.get(status_url(contact))
        contact.refresh_from_db()
        assert contact.last_polled_at is not None
        assert contact.pair == ("unread", "")

    @pytest.mark.parametrize("contact_id", ["0" * 32, "nothex", "A" * 33])
    def test_it_answers_404_for_an_unknown_id(self, client, feeds, contact_id):
        response = client.get(f"/ccp/rest/task/contact/{contact_id}")
        assert response.status_code == 404
        assert xml_errors(response) == [("notFound", "id")]

    def test_it_answers_404_for_a_callback_on_the_task_path(self, client, feeds):
        contact = created(client, "callback")
        assert client.get(f"/ccp/rest/task/contact/{contact.public_id}").status_code == 404


@pytest.mark.django_db
class CallbackStatusTests:
    @pytest.mark.parametrize(("family", "root", "status"), [("rest", "Contact", "QUEUED"),
                                                             ("sm", "SocialContact", "queued")])
    def test_it_answers_both_families(self, client, feeds, family, root, status):
        contact = created(client, "callback", family=family)
        place(contact, "queued", "EXTERNALLY_HANDLED", estimated_wait=0)
        fields = xml_fields(client.get(status_url(contact, family)))
        assert (fields["root"], fields["status"], fields["estimatedWaitTime"]) == (root, status, "0")

    def test_it_never_names_a_task_or_agent_for_a_callback(self, client, feeds):
        contact = created(client, "callback")
        place(contact, *HANDLED, agent_id="1081")
        assert client.get(status_url(contact), HTTP_ACCEPT="application/json").json() == {
            "status": "HANDLED", "statusReason": "EXTERNALLY_HANDLED",
        }


@pytest.mark.django_db
class ExpiryTests:
    def test_it_answers_404_once_an_unfinished_contact_went_unpolled_too_long(self, client, feeds):
        contact = created(client)
        Contact.objects.filter(pk=contact.pk).update(created_at=timezone.now() - timedelta(seconds=301))
        assert client.get(status_url(contact)).status_code == 404
        assert client.get(status_url(contact, "sm")).status_code == 404

    def test_it_measures_from_the_last_poll(self, client, feeds):
        contact = created(client)
        long_ago = timezone.now() - timedelta(hours=1)
        Contact.objects.filter(pk=contact.pk).update(created_at=long_ago, last_polled_at=timezone.now())
        assert client.get(status_url(contact)).status_code == 200
        Contact.objects.filter(pk=contact.pk).update(last_polled_at=long_ago)
        assert client.get(status_url(contact)).status_code == 404

    @pytest.mark.parametrize("position", [HANDLED, ("discarded", "NOTIFICATION_NO_SCRIPT")])
    def test_it_never_expires_a_finished_contact(self, client, feeds, position):
        contact = created(client)
        place(contact, *position, created_at=timezone.now() - timedelta(hours=1))
        assert client.get(status_url(contact)).status_code == 200

    @override_settings(CCP_STATUS_EXPIRY_SECONDS=0)
    def test_it_never_expires_when_the_setting_is_zero(self, client, feeds):
        contact = created(client)
        Contact.objects.filter(pk=contact.pk).update(created_at=timezone.now() - timedelta(days=1))
        assert client.get(status_url(contact)).status_code == 200

    @override_settings(CCP_STATUS_EXPIRY_SECONDS=10)
    def test_it_reads_the_setting(self, client, feeds):
        contact = created(client)
        Contact.objects.filter(pk=contact.pk).update(created_at=timezone.now() - timedelta(seconds=11))
        assert client.get(status_url(contact)).status_code == 404
