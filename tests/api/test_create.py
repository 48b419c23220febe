"""Creating tasks and callbacks through the CCP-compatible API (spec §4): XML, JSON, query strings, feeds."""

from __future__ import annotations

import pytest
from django.test import Client

from contacts.core.models import Contact, Feed, Transition
from tests.api.support import (
    CALLBACK_XML,
    FAMILIES,
    HOST,
    TASK_XML,
    create,
    created,
    minimal_task,
    xml_errors,
)


@pytest.mark.django_db
class TaskCreateTests:
    @pytest.mark.parametrize("family", ["rest", "sm"])
    def test_it_creates_from_xml_with_201_and_a_location_in_the_same_family(self, client, feeds, family):
        response = create(client, family=family)
        assert response.status_code == 201
        assert response.content == b""
        contact = Contact.objects.get()
        assert response["Location"] == f"{HOST}{FAMILIES[family]}task/contact/{contact.public_id}"

    def test_it_stores_every_field_of_the_payload(self, client, feeds):
        contact = created(client)
        assert (contact.kind, contact.feed_id, contact.pair) == ("task", 100, ("unread", ""))
        assert (contact.name, contact.title) == ("Ada Lovelace", "Order 4711 question")
        assert contact.script_selector == "Sales"
        assert contact.description == "Chat started from the order page"
        assert contact.requeue_on_recovery is True
        assert contact.tags == ["web", "orders"]
        assert contact.variables[0] == {"name": "cv_1", "value": "4711"}
        assert [v["name"] for v in contact.variables][1:] == ["user_user.order.channel", "mediaType", "customerTier"]
        assert Transition.objects.get(contact=contact).source == "api"

    def test_it_gives_a_random_upper_case_hex_id(self, client, feeds):
        first, second = created(client), created(client)
        assert len(first.public_id) == 32 and first.public_id == first.public_id.upper()
        assert first.public_id != second.public_id

    @pytest.mark.parametrize("family", ["rest", "sm"])
    def test_it_creates_from_json(self, client, feeds, family):
        body = {**minimal_task(), "tags": ["web"], "variables": [{"name": "cv_1", "value": "1"}],
                "requeueOnRecovery": True}
        response = client.post(f"{FAMILIES[family]}task/feed/100", body, content_type="application/json")
        assert response.status_code == 201
        contact = Contact.objects.get()
        assert contact.tags == ["web"] and contact.variables == [{"name": "cv_1", "value": "1"}]
        assert contact.requeue_on_recovery is True

    @pytest.mark.parametrize("family", ["rest", "sm"])
    def test_it_creates_from_a_query_string_ignoring_empty_fields_and_the_content_type(self, client, feeds, family):
        query = ("name=Ada+Lovelace&scriptSelector=Sales&title=Order+question&description=&tags=web,,orders"
                 "&variable_cv_1=4711&variable_cv_2=&variable_user_user.test.task=&requeueOnRecovery=")
        response = client.get(f"{FAMILIES[family]}task/feed/100?{query}", content_type="application/xml")
        assert response.status_code == 201, response.content
        contact = Contact.objects.get()
        assert response["Location"] == f"{HOST}{FAMILIES[family]}task/contact/{contact.public_id}"
        assert contact.variables == [{"name": "cv_1", "value": "4711"}]
        assert contact.tags == ["web", "orders"]
        assert (contact.description, contact.requeue_on_recovery) == ("", False)

    def test_it_serves_a_trailing_slash_without_redirecting(self, client, feeds):
        response = client.post("/ccp/rest/task/feed/100/", TASK_XML, content_type="application/xml")
        assert response.status_code == 201
        assert not response["Location"].endswith("/")

    def test_it_is_exempt_from_csrf(self, feeds):
        response = create(Client(enforce_csrf_checks=True))
        assert response.status_code == 201

    def test_it_refuses_a_body_with_the_wrong_root(self, client, feeds):
        response = create(client, body=CALLBACK_XML.replace("mediaAddress", "scriptSelector"))
        assert response.status_code == 400
        assert xml_errors(response) == [("invalidInput", "body")]

    def test_it_answers_405_to_other_methods(self, client, feeds):
        assert client.put("/ccp/rest/task/feed/100", TASK_XML).status_code == 405


@pytest.mark.django_db
class CallbackCreateTests:
    @pytest.mark.parametrize("family", ["rest", "sm"])
    def test_it_creates_from_xml_with_a_location_in_the_same_family(self, client, feeds, family):
        response = create(client, "callback", family=family)
        assert response.status_code == 201
        contact = Contact.objects.get()
        assert response["Location"] == f"{HOST}{FAMILIES[family]}callback/contact/{contact.public_id}"
        assert (contact.kind, contact.media_address, contact.name) == ("callback", "+15551234567", "Grace Hopper")

    def test_it_creates_from_a_query_string(self, client, feeds):
        response = client.get("/ccp/callback/feed/200?name=Grace&title=&mediaAddress=%2B15551234567&tags=")
        assert response.status_code == 201
        assert Contact.objects.get().media_address == "+15551234567"

    def test_it_creates_from_json(self, client, feeds):
        response = client.post("/ccp/rest/callback/feed/200", {"mediaAddress": "555"}, content_type="application/json")
        assert response.status_code == 201

    def test_it_needs_only_a_media_address(self, client, feeds):
        response = create(client, "callback", body="<Contact><mediaAddress>555</mediaAddress></Contact>")
        assert response.status_code == 201

    def test_it_requires_a_media_address(self, client, feeds):
        response = create(client, "callback", body="<Contact><name>Grace</name></Contact>")
        assert response.status_code == 400
        assert xml_errors(response) == [("invalidInput", "mediaAddress")]


@pytest.mark.django_db
class FeedTests:
    @pytest.mark.parametrize("feed", ["999", "abc", "99999999999", "1" * 40])
    def test_it_answers_404_for_an_unknown_feed(self, client, feeds, feed):
        response = create(client, feed=feed)
        assert response.status_code == 404
        assert xml_errors(response) == [("notFound", "feedId")]

    def test_it_refuses_a_task_sent_to_a_callback_feed(self, client, feeds):
        response = create(client, "task", feed=200)
        assert response.status_code == 400
        assert xml_errors(response) == [("invalidInput", "feedId")]

    def test_it_refuses_a_callback_sent_to_a_task_feed(self, client, feeds):
        assert create(client, "callback", feed=100).status_code == 400

    def test_it_refuses_a_disabled_feed(self, client, feeds):
        Feed.objects.filter(pk=100).update(enabled=False)
        assert create(client).status_code == 400
        assert not Contact.objects.exists()
