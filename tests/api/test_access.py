"""Around every CCP-compatible API operation: feed tokens, CORS, error documents, the try page, hostile input."""

from __future__ import annotations

import urllib.parse
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.core.models import Contact, Feed, FeedType
from tests.api.support import (
    FAMILIES,
    HANDLED,
    MB,
    create,
    created,
    place,
    renotify,
    status_url,
    task_xml,
    xml_errors,
)


@pytest.mark.django_db
class TokenTests:
    TOKEN = "s3cret-token"

    @pytest.fixture
    def protected(self, feeds) -> Feed:
        Feed.objects.filter(pk=100).update(api_token=self.TOKEN)
        return Feed.objects.get(pk=100)

    def auth(self, token: str) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    @pytest.mark.parametrize("headers", [{}, {"HTTP_AUTHORIZATION": "Bearer wrong"},
                                         {"HTTP_AUTHORIZATION": "Basic czNjcmV0LXRva2Vu"},
                                         {"HTTP_AUTHORIZATION": "Bearer"}])
    def test_it_refuses_create_without_the_right_token(self, client, protected, headers):
        response = create(client, **headers)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert xml_errors(response) == [("unauthorized", "Authorization")]
        assert not Contact.objects.exists()

    def test_it_refuses_a_query_string_create_without_the_token(self, client, protected):
        assert client.get("/ccp/task/feed/100?name=a&title=b&scriptSelector=c").status_code == 401

    def test_it_creates_polls_and_cancels_with_the_right_token(self, client, protected):
        response = create(client, **self.auth(self.TOKEN))
        assert response.status_code == 201
        url = response["Location"]
        assert client.get(url, **self.auth(self.TOKEN)).status_code == 200
        assert client.delete(url, **self.auth(self.TOKEN)).status_code == 200

    @pytest.mark.parametrize("token", [None, "wrong"])
    def test_it_guards_poll_cancel_and_renotify(self, client, protected, token):
        contact = created(client, **self.auth(self.TOKEN))
        headers = self.auth(token) if token else {}
        assert client.get(status_url(contact), **headers).status_code == 401
        assert client.get(status_url(contact, "sm"), **headers).status_code == 401
        assert client.delete(status_url(contact), **headers).status_code == 401
        assert renotify(client, contact, **headers).status_code == 401
        contact.refresh_from_db()
        assert contact.pair == ("unread", "")

    def test_it_answers_401_in_json_when_asked(self, client, protected):
        response = create(client, HTTP_ACCEPT="application/json")
        assert response.json()["apiErrors"][0]["errorType"] == "unauthorized"

    def test_it_leaves_the_social_contact_readable_without_the_token(self, client, protected):
        contact = created(client, **self.auth(self.TOKEN))
        assert client.get(f"/ccp/rest/socialcontact/{contact.public_id}").status_code == 200

    def test_it_leaves_feeds_without_a_token_open(self, client, protected):
        assert create(client, "callback", HTTP_AUTHORIZATION="Bearer anything").status_code == 201


@pytest.mark.django_db
class CorsTests:
    ORIGIN = "https://forms.example.com"

    @pytest.mark.parametrize(("path", "method"), [
        ("/ccp/rest/task/feed/100", "POST"), ("/ccp/task/contact/" + "A" * 32, "DELETE"),
        ("/ccp-webapp/ccp/task/" + "A" * 32 + "/renotify", "PUT"),
    ])
    def test_it_answers_a_preflight(self, client, feeds, path, method):
        response = client.options(path, HTTP_ORIGIN=self.ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
                                  HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type, authorization, accept")
        assert response.status_code == 200
        assert response["Access-Control-Allow-Origin"] == "*"
        assert method in response["Access-Control-Allow-Methods"]
        assert "authorization" in response["Access-Control-Allow-Headers"]

    def test_it_exposes_location_to_cross_origin_scripts(self, client, feeds):
        response = create(client, HTTP_ORIGIN=self.ORIGIN)
        assert response.status_code == 201
        assert response["Access-Control-Allow-Origin"] == "*"
        assert "Location" in response["Access-Control-Expose-Headers"]

    def test_it_keeps_the_dashboard_same_origin(self, client, feeds):
        assert "Access-Control-Allow-Origin" not in client.get("/healthz", HTTP_ORIGIN=self.ORIGIN)


def provoke(client, status: int, **headers):
    """A request that the API answers with `status`."""
    if status == 400:
        return create(client, body=task_xml(name="n" * 101, title="t", scriptSelector="s"), **headers)
    if status == 401:
        Feed.objects.filter(pk=100).update(api_token="s3cret")
        return create(client, **headers)
    if status == 404:
        return client.get("/ccp/rest/task/contact/" + "0" * 32, **headers)
    if status == 412:
        contact = created(client)
        place(contact, *HANDLED)
        return renotify(client, contact, **headers)
    return create(client, body="<Task>" + "x" * 2 * MB + "</Task>", **headers)


@pytest.mark.django_db
class ErrorDocumentTests:
    @pytest.mark.parametrize("status", [400, 401, 404, 412, 413])
    def test_it_answers_an_xml_error_document(self, client, feeds, status):
        response = provoke(client, status)
        assert response.status_code == status
        assert response["Content-Type"] == "application/xml"
        [(error_type, data)] = xml_errors(response)
        assert error_type and data
        assert ElementTree.fromstring(response.content).find("ApiError/ErrorMessage").text

    @pytest.mark.parametrize("status", [400, 401, 404, 412, 413])
    def test_it_answers_a_json_error_document(self, client, feeds, status):
        response = provoke(client, status, HTTP_ACCEPT="application/json")
        assert response.status_code == status
        assert response["Content-Type"] == "application/json"
        [error] = response.json()["apiErrors"]
        assert set(error) == {"errorType", "errorData", "errorMessage"} and all(error.values())

    def test_it_answers_a_path_no_route_matches_with_an_error_document(self, client, feeds):
        response = client.get("/ccp/rest/task/contact/" + "A" * 32 + "%2Fx")  # an id with a '/' in it
        assert response.status_code == 404
        assert xml_errors(response) == [("notFound", "path")]
        response = client.get("/ccp/task/feed/", HTTP_ACCEPT="application/json")
        assert response.status_code == 404 and response.json()["apiErrors"][0]["errorType"] == "notFound"

    def test_it_leaves_the_404_of_other_paths_to_the_page(self, client):
        response = client.get("/no-such-page")
        assert response.status_code == 404 and response["Content-Type"].startswith("text/html")

    def test_it_reads_an_accept_header_django_cannot_parse_as_no_preference(self, client, feeds):
        # An RFC 2231 parameter naming an unknown charset: Django raises ValueError reading the header (was a 500).
        response = client.get("/ccp/rest/task/contact/" + "0" * 32, HTTP_ACCEPT=";0*=0''")
        assert response.status_code == 404 and xml_errors(response) == [("notFound", "id")]
        assert create(client, HTTP_ACCEPT="application/json; q*=bogus''1").status_code == 201

    def test_it_answers_404_to_a_cancel_of_an_expired_contact(self, client, feeds):
        contact = created(client)
        Contact.objects.filter(pk=contact.pk).update(created_at=timezone.now() - timedelta(hours=1))
        assert client.delete(status_url(contact)).status_code == 404
        assert Contact.objects.get(pk=contact.pk).pair == ("unread", "")


@pytest.mark.django_db
class TryPageTests:
    def test_it_serves_the_demo_page_without_login(self, client):
        response = client.get("/try/")
        assert response.status_code == 200
        assert b"/static/js/try.js" in b"".join(response.streaming_content)


ROOTS = {"task": "Task", "callback": "Contact"}
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.django_db
class HostileInputTests:
    """No input makes the API answer 500 (the parser itself is fuzzed harder in test_payloads)."""

    @FUZZ
    @given(raw=st.binary(max_size=300), family=st.sampled_from(sorted(FAMILIES)), kind=st.sampled_from(sorted(ROOTS)))
    def test_it_never_fails_on_a_query_string(self, client, feeds, raw, family, kind):
        query = urllib.parse.quote_from_bytes(raw, safe=b"=&_,")
        response = client.get(f"{FAMILIES[family]}{kind}/feed/{feeds[kind].pk}?{query}", content_type="application/xml")
        assert response.status_code in {201, 400}

    @FUZZ
    @given(body=st.binary(max_size=300), content_type=st.sampled_from(["application/xml", "application/json", "x/y"]),
           accept=st.text(max_size=40).map(lambda s: s.encode("utf-8").decode("latin-1")))
    def test_it_never_fails_on_a_body(self, client, feeds, body, content_type, accept):
        response = client.post("/ccp/rest/task/feed/100", body, content_type=content_type, HTTP_ACCEPT=accept)
        assert response.status_code in {201, 400}

    @FUZZ
    @given(segment=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40))
    def test_it_never_fails_on_an_id(self, client, feeds, segment):
        quoted = urllib.parse.quote(segment, safe="")
        for path in (f"/ccp/rest/task/contact/{quoted}", f"/ccp/rest/socialcontact/{quoted}",
                     f"/ccp/callback/feed/{quoted}"):
            assert client.get(path).status_code in {400, 404}
        assert client.delete(f"/ccp/task/contact/{quoted}").status_code == 404
        assert client.put(f"/ccp/rest/task/{quoted}/renotify").status_code == 404

    def test_it_refuses_a_query_string_with_too_many_fields(self, client, feeds):
        query = "&".join(f"f{i}=x" for i in range(1001))
        response = client.get(f"/ccp/rest/task/feed/100?{query}")
        assert xml_errors(response) == [("invalidInput", "query")]


class ProxyTests:
    @override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"), ALLOWED_HOSTS=["dash.example.com"])
    def test_it_answers_https_locations_behind_a_trusted_tls_proxy(self, db):
        Feed.objects.create(id=300, name="proxied", type=FeedType.TASK)
        response = Client().post(
            "/ccp/rest/task/feed/300",
            b"<Task><name>Ada</name><title>t</title><scriptSelector>Sales</scriptSelector></Task>",
            content_type="application/xml",
            HTTP_X_FORWARDED_PROTO="https",
            HTTP_HOST="dash.example.com",
        )
        assert response.status_code == 201
        assert response["Location"].startswith("https://dash.example.com/ccp/rest/task/contact/")
