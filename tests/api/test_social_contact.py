"""Reading a contact as a SocialMiner social contact through the CCP-compatible API (.../socialcontact/<id>)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.core.models import Contact
from tests.api.support import (
    HOST,
    created,
    finish_cancel,
    status_url,
    xml_fields,
)


@pytest.mark.django_db
class SocialContactTests:
    @pytest.mark.parametrize("path", ["/ccp/rest/socialcontact/", "/ccp-webapp/ccp/socialcontact/"])
    def test_it_answers_with_its_own_url_as_ref_url(self, client, feeds, path):
        contact = created(client, "callback")
        fields = xml_fields(client.get(path + contact.public_id))
        assert fields["root"] == "SocialContact"
        assert fields["refURL"] == f"{HOST}{path}{contact.public_id}"
        assert (fields["author"], fields["status"], fields["statusReason"]) == ("Grace Hopper", "unread", "")

    def test_it_answers_after_an_api_cancel_succeeded(self, client, feeds):
        contact = created(client)
        client.delete(status_url(contact))
        finish_cancel(contact)
        response = client.get(f"/ccp/rest/socialcontact/{contact.public_id}", HTTP_ACCEPT="application/json")
        assert response.status_code == 200
        assert response.json()["statusReason"] == "notification_cce_task_cancel_succeeded"

    def test_it_answers_after_expiry_without_counting_as_a_poll(self, client, feeds):
        contact = created(client)
        Contact.objects.filter(pk=contact.pk).update(created_at=timezone.now() - timedelta(hours=1))
        assert client.get(f"/ccp/rest/socialcontact/{contact.public_id}").status_code == 200
        assert Contact.objects.get(pk=contact.pk).last_polled_at is None

    def test_it_answers_404_for_an_unknown_id(self, client, feeds):
        assert client.get("/ccp/rest/socialcontact/" + "0" * 32).status_code == 404
