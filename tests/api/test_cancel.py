"""Cancelling a task or callback through the CCP-compatible API (DELETE on its status URL; rules T6 and C5)."""

from __future__ import annotations

import pytest

from contacts.core import lifecycle
from tests.api.support import (
    CB_CANCELLING,
    FAMILIES,
    HANDLED,
    QUEUED_ROUTED,
    RENOTIFYING,
    TASK_CANCELLING,
    created,
    finish_cancel,
    place,
    status_url,
    xml_fields,
)


@pytest.mark.django_db
class CancelTests:
    @pytest.mark.parametrize("family", ["rest", "sm"])
    @pytest.mark.parametrize("position", [("unread", ""), QUEUED_ROUTED, RENOTIFYING])
    def test_it_accepts_a_task_cancel_where_t6_allows_it(self, client, feeds, family, position):
        contact = created(client)
        place(contact, *position)
        response = client.delete(status_url(contact, family))
        assert response.status_code == 200
        contact.refresh_from_db()
        assert contact.pair == TASK_CANCELLING
        assert contact.transitions.last().source == "api" and contact.transitions.last().rule == "T6"

    @pytest.mark.parametrize("family", ["rest", "sm"])
    @pytest.mark.parametrize("position", [("unread", ""), ("queued", "EXTERNALLY_HANDLED")])
    def test_it_accepts_a_callback_cancel_where_c5_allows_it(self, client, feeds, family, position):
        contact = created(client, "callback")
        place(contact, *position)
        assert client.delete(status_url(contact, family)).status_code == 200
        contact.refresh_from_db()
        assert contact.pair == CB_CANCELLING

    @pytest.mark.parametrize(("kind", "position"), [
        ("task", TASK_CANCELLING), ("task", ("reserved", "EXTERNALLY_ROUTED")), ("task", HANDLED),
        ("task", ("discarded", "NOTIFICATION_NO_SCRIPT")), ("callback", CB_CANCELLING), ("callback", HANDLED),
        ("callback", ("discarded", "NOTIFICATION_INVALID_MRD_ID")),
    ])
    def test_it_refuses_a_cancel_anywhere_else_with_400(self, client, feeds, kind, position):
        contact = created(client, kind)
        place(contact, *position)
        response = client.delete(status_url(contact), HTTP_ACCEPT="application/json")
        assert response.status_code == 400
        assert response.json()["apiErrors"][0]["errorType"] == "invalidState"
        contact.refresh_from_db()
        assert contact.pair == position

    def test_it_refuses_a_second_cancel_while_the_first_is_in_flight(self, client, feeds):
        contact = created(client)
        assert client.delete(status_url(contact)).status_code == 200
        assert client.delete(status_url(contact)).status_code == 400

    def test_it_answers_as_usual_while_the_cancel_is_in_flight(self, client, feeds):
        contact = created(client)
        client.delete(status_url(contact))
        fields = xml_fields(client.get(status_url(contact)))
        assert (fields["status"], fields["statusReason"]) == ("QUEUED", TASK_CANCELLING[1])

    @pytest.mark.parametrize("kind", ["task", "callback"])
    def test_it_answers_404_once_an_api_cancel_succeeded(self, client, feeds, kind):
        contact = created(client, kind)
        client.delete(status_url(contact))
        finish_cancel(contact)
        for family in FAMILIES:
            assert client.get(status_url(contact, family)).status_code == 404
        assert client.delete(status_url(contact)).status_code == 404

    def test_it_keeps_answering_when_routing_won_the_race(self, client, feeds):
        contact = created(client)
        client.delete(status_url(contact))
        finish_cancel(contact, won=False)
        fields = xml_fields(client.get(status_url(contact)))
        assert (fields["status"], fields["statusReason"]) == ("RESERVED", "EXTERNALLY_ROUTED")

    @pytest.mark.parametrize("source", ["dashboard", "admin"])
    def test_it_keeps_answering_after_a_cancel_made_elsewhere(self, client, feeds, source):
        contact = created(client)
        lifecycle.transition(contact, *TASK_CANCELLING, source=source)
        finish_cancel(contact)
        fields = xml_fields(client.get(status_url(contact)))
        assert (fields["status"], fields["statusReason"]) == ("DISCARDED", "NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED")

    def test_it_answers_404_for_an_unknown_contact(self, client, feeds):
        assert client.delete("/ccp/rest/task/contact/" + "F" * 32).status_code == 404
