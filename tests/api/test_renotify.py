"""Renotifying a task through the CCP-compatible API (PUT .../task/<id>/renotify; rule T9)."""

from __future__ import annotations

import pytest

from tests.api.support import (
    HANDLED,
    PLAIN_DTD,
    QUEUED_ROUTED,
    RENOTIFY_PATHS,
    RENOTIFYING,
    TASK_CANCELLING,
    created,
    place,
    renotify,
    xml_errors,
)


@pytest.mark.django_db
class RenotifyTests:
    @pytest.mark.parametrize("path", RENOTIFY_PATHS)
    def test_it_renotifies_a_discarded_task_with_a_new_script_selector(self, client, feeds, path):
        contact = created(client)
        place(contact, "discarded", "NOTIFICATION_INVALID_SCRIPT_SELECTOR")
        response = renotify(client, contact, path=path)
        assert response.status_code == 200
        contact.refresh_from_db()
        assert (contact.pair, contact.script_selector) == (RENOTIFYING, "Support")
        row = contact.transitions.last()
        assert (row.rule, row.source, row.comment) == ("T9", "api", "ROUTE_SERVICE_RECOVERY")

    def test_it_keeps_the_script_selector_when_none_is_sent(self, client, feeds):
        contact = created(client)
        place(contact, *QUEUED_ROUTED)
        assert renotify(client, contact, "<Task><reNotifyReason>again</reNotifyReason></Task>").status_code == 200
        contact.refresh_from_db()
        assert (contact.pair, contact.script_selector) == (RENOTIFYING, "Sales")

    def test_it_takes_json_and_an_empty_body(self, client, feeds):
        contact = created(client)
        place(contact, "discarded", "NOTIFICATION_NO_SCRIPT")
        response = client.put(f"/ccp/rest/task/{contact.public_id}/renotify", {"scriptSelector": "Support"},
                              content_type="application/json")
        assert response.status_code == 200
        other = created(client)
        place(other, *QUEUED_ROUTED)
        assert client.put(f"/ccp/rest/task/{other.public_id}/renotify").status_code == 200

    @pytest.mark.parametrize("position", [
        RENOTIFYING, ("unread", ""), ("reserved", "EXTERNALLY_ROUTED"), HANDLED, TASK_CANCELLING,
        ("discarded", "NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED"),
    ])
    def test_it_answers_412_where_t9_does_not_apply(self, client, feeds, position):
        contact = created(client)
        place(contact, *position)
        response = renotify(client, contact, HTTP_ACCEPT="application/json")
        assert response.status_code == 412
        assert response.json()["apiErrors"][0]["errorType"] == "invalidState"
        contact.refresh_from_db()
        assert (contact.pair, contact.script_selector) == (position, "Sales")

    def test_it_refuses_a_script_selector_over_32_characters(self, client, feeds):
        contact = created(client)
        place(contact, *QUEUED_ROUTED)
        response = renotify(client, contact, f"<Task><scriptSelector>{'s' * 33}</scriptSelector></Task>")
        assert xml_errors(response) == [("invalidInput", "scriptSelector")]

    def test_it_refuses_a_dtd(self, client, feeds):
        contact = created(client)
        place(contact, *QUEUED_ROUTED)
        assert renotify(client, contact, PLAIN_DTD).status_code == 400

    def test_it_is_for_tasks_only(self, client, feeds):
        contact = created(client, "callback")
        place(contact, "discarded", "NOTIFICATION_NO_SCRIPT")
        assert renotify(client, contact).status_code == 404

    def test_it_answers_405_to_other_methods(self, client, feeds):
        assert client.get(f"/ccp/rest/task/{'A' * 32}/renotify").status_code == 405
