"""The read API's endpoints: who may read each (the pages' permissions, by token or session), what they answer,
their 400s for bad parameters and JSON 404s, and the contacts' keyset pages staying put while contacts arrive.
"""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from contacts.cce.models import MediaRoutingDomain
from contacts.core.lifecycle import Reason, State
from contacts.dashboard.lists import LIST_PAGE
from contacts.readapi.models import ApiToken
from contacts.workflows.models import AuditAction, AuditEntry, BulkJob, BulkJobKind
from tests.readapi.support import token_client
from tests.workflow_support import discard, make_user, task

DASHBOARD = ["/api/v1/queues", "/api/v1/figures", "/api/v1/contacts", "/api/v1/alert-groups"]
ADMINS_ONLY = ["/api/v1/bulk-jobs", "/api/v1/audit"]


def page_urls(client: APIClient, url: str) -> list[str]:
    return [row["public_id"] for row in client.get(url).json()["results"]]


@pytest.mark.django_db
class PermissionTests:
    @pytest.mark.parametrize("url", DASHBOARD + ADMINS_ONLY)
    def test_it_answers_401_in_json_without_credentials(self, api_for, url):
        response = api_for(None).get(url)
        assert response.status_code == 401
        assert response["Content-Type"] == "application/json" and response.json()["detail"]

    @pytest.mark.parametrize("url", DASHBOARD)
    def test_it_lets_a_supervisors_token_read_the_dashboards_data(self, api_for, url):
        assert api_for("supervisor").get(url).status_code == 200

    @pytest.mark.parametrize("url", ADMINS_ONLY)
    def test_it_refuses_a_supervisors_token_what_a_supervisor_cannot_see(self, api_for, url):
        response = api_for("supervisor").get(url)
        assert response.status_code == 403 and response.json()["detail"]

    @pytest.mark.parametrize("url", DASHBOARD + ADMINS_ONLY)
    def test_it_lets_an_admins_token_read_everything(self, api_for, url):
        assert api_for("admin").get(url).status_code == 200

    def test_it_refuses_a_user_without_a_role(self, django_user_model):
        _, plaintext = ApiToken.create(django_user_model.objects.create_user("nobody"), "script")
        assert token_client(plaintext).get("/api/v1/queues").status_code == 403

    def test_it_accepts_the_session_of_a_signed_in_user(self):
        client = Client()
        client.force_login(make_user("supervisor"))
        assert client.get("/api/v1/queues").status_code == 200
        assert client.get("/api/v1/audit").status_code == 403

    def test_it_is_read_only(self, api_for):
        assert api_for("admin").post("/api/v1/contacts", {}, format="json").status_code == 405


@pytest.mark.django_db
class QueuesTests:
    def test_it_answers_the_catalogues_figures_per_mrd_and_in_total(self, api_for):
        MediaRoutingDomain.objects.create(id=5000, name="Sales")
        body = api_for("supervisor").get("/api/v1/queues").json()
        assert [(queue["mrd"], queue["name"]) for queue in body["queues"]] == [(5000, "Sales")]
        sales = body["queues"][0]
        assert sales["figures"]["waiting"] == 0 and sales["figures"]["estimated_wait"] == -1
        assert set(sales["levels"].values()) == {"ok"}
        assert body["total"]["figures"]["backlog"] == 0 and "waiting" in body["unknown_mrd"]["figures"]

    def test_it_counts_the_throttle_backlog(self, api_for):
        task(), task()
        assert api_for("supervisor").get("/api/v1/queues").json()["total"]["figures"]["backlog"] == 2

    def test_it_describes_every_figure(self, api_for):
        figures = api_for("supervisor").get("/api/v1/figures").json()
        assert {"key": "waiting", "unit": "contacts", "window": "now"}.items() <= figures[0].items()


@pytest.mark.django_db
class ContactListTests:
    def test_it_filters_as_the_contact_list_does(self, api_for):
        kept = discard(task(name="Ada"))
        task(name="Bob")
        client = api_for("supervisor")
        assert page_urls(client, f"/api/v1/contacts?state=discarded&reason={Reason.INVALID_SCRIPT_SELECTOR}") == [
            kept.public_id]
        assert page_urls(client, "/api/v1/contacts?q=ada") == [kept.public_id]
        row = client.get("/api/v1/contacts?q=ada").json()["results"][0]
        assert row["state"] == State.DISCARDED and row["reason_name"] == "Unknown script selector"

    @pytest.mark.parametrize("query", ["state=lost", "reason=NOPE", "feed=999", "mrd=x", "window=2h", "q=" + "x" * 101,
                                       "q=a%00b", "before=12", "after=1.2.3", "before=1.1&after=1.1",
                                       "before=99999999999999999999.1", "state=", "feed=", "mrd=", "before="])
    def test_it_answers_400_naming_a_bad_parameter(self, api_for, query):
        response = api_for("supervisor").get(f"/api/v1/contacts?{query}")
        assert response.status_code == 400
        assert response.json()["detail"] and response.json()["fields"]

    def test_it_reads_empty_free_text_as_no_filter(self, api_for):
        contact = task()
        assert page_urls(api_for("supervisor"), "/api/v1/contacts?q=&selector=") == [contact.public_id]

    def test_it_pages_by_keyset_and_stays_put_while_contacts_arrive(self, api_for):
        for n in range(LIST_PAGE + 10):
            task(name=f"n{n}")
        client = api_for("supervisor")
        first = client.get("/api/v1/contacts").json()
        assert len(first["results"]) == LIST_PAGE and first["previous"] is None
        second_before = page_urls(client, first["next"])
        for n in range(5):
            task(name=f"new{n}")  # newer than everything: must not push rows onto the next page
        assert page_urls(client, first["next"]) == second_before and len(second_before) == 10
        second = client.get(first["next"]).json()
        assert second["next"] is None
        back = client.get(second["previous"]).json()
        assert [row["public_id"] for row in back["results"]] == [row["public_id"] for row in first["results"]]
        assert back["previous"] is not None  # the five new ones are newer still

    def test_it_keeps_the_filters_in_the_page_links(self, api_for):
        for n in range(LIST_PAGE + 1):
            task(name=f"n{n}")
        assert "kind=task" in api_for("supervisor").get("/api/v1/contacts?kind=task").json()["next"]


@pytest.mark.django_db
class ContactTests:
    def test_it_answers_one_contact_with_its_timeline(self, api_for):
        contact = discard(task(name="Ada"))
        body = api_for("supervisor").get(f"/api/v1/contacts/{contact.public_id}").json()
        assert body["public_id"] == contact.public_id and body["name"] == "Ada"
        assert [(move["to_state"], move["to_reason"]) for move in body["timeline"]] == [
            ("unread", ""), ("discarded", Reason.INVALID_SCRIPT_SELECTOR)]
        assert body["resubmitted_from"] is None and body["resubmission"] is None

    @pytest.mark.parametrize("public_id", ["0123456789ABCDEF0123456789ABCDEF", "lower", "a%00b", "x" * 40])
    def test_it_answers_404_in_json_for_no_such_contact(self, api_for, public_id):
        response = api_for("supervisor").get(f"/api/v1/contacts/{public_id}")
        assert response.status_code == 404 and response.json()["detail"]

    def test_it_answers_json_404_for_any_other_path_under_the_prefix(self, api_for):
        response = api_for("supervisor").get("/api/v1/nothing/here")
        assert response.status_code == 404 and response.json()["detail"]


@pytest.mark.django_db
class AlertGroupTests:
    def test_it_groups_the_discards_by_cause_and_place(self, api_for):
        discard(task()), discard(task())
        body = api_for("admin").get("/api/v1/alert-groups").json()
        group = body["groups"][0]
        assert (group["code"], group["count"], group["status"]) == (Reason.INVALID_SCRIPT_SELECTOR, 2, "open")
        assert group["resubmit"]

    def test_it_offers_no_resubmit_to_a_supervisor(self, api_for):
        discard(task())
        assert api_for("supervisor").get("/api/v1/alert-groups").json()["groups"][0]["resubmit"] is None

    @pytest.mark.parametrize("limit", ["0", "101", "x", ""])
    def test_it_answers_400_for_a_bad_limit(self, api_for, limit):
        assert api_for("supervisor").get(f"/api/v1/alert-groups?limit={limit}").status_code == 400


@pytest.mark.django_db
class BulkJobTests:
    def test_it_lists_the_jobs_newest_first(self, api_for):
        older = BulkJob.objects.create(kind=BulkJobKind.CANCEL, username="admin", total=3)
        newer = BulkJob.objects.create(kind=BulkJobKind.RESUBMIT, filters={"reason": "X"})
        body = api_for("admin").get("/api/v1/bulk-jobs").json()
        assert [job["id"] for job in body["results"]] == [newer.pk, older.pk] and body["next"] is None

    def test_it_answers_one_job_with_its_outcomes(self, api_for):
        job = BulkJob.objects.create(kind=BulkJobKind.CANCEL, total=0)
        body = api_for("admin").get(f"/api/v1/bulk-jobs/{job.pk}").json()
        assert (body["id"], body["state"], body["outcomes"], body["items"]) == (job.pk, "running", [], [])

    @pytest.mark.parametrize("path", ["12345", "x", "99999999999999999999"])
    def test_it_answers_404_for_no_such_job(self, api_for, path):
        assert api_for("admin").get(f"/api/v1/bulk-jobs/{path}").status_code == 404

    def test_it_pages_by_id(self, api_for):
        BulkJob.objects.bulk_create([BulkJob(kind=BulkJobKind.CANCEL) for _ in range(55)])
        client = api_for("admin")
        first = client.get("/api/v1/bulk-jobs").json()
        second = client.get(first["next"]).json()
        assert len(first["results"]) == 50 and len(second["results"]) == 5
        assert first["results"][-1]["id"] > second["results"][0]["id"]


@pytest.mark.django_db
class AuditTests:
    def test_it_answers_the_entries_filtered_with_their_summary(self, api_for):
        contact = task()
        AuditEntry.record(AuditAction.CANCEL, contact=contact, details={"rule": "T6"})
        AuditEntry.record(AuditAction.ACKNOWLEDGE, details={"alert": "q1"})
        body = api_for("admin").get("/api/v1/audit?action=cancel").json()
        assert [(e["action"], e["contact"], e["summary"]) for e in body["results"]] == [
            ("cancel", contact.public_id, "cancel requested (T6)")]

    @pytest.mark.parametrize("query", ["action=nope", "action=", "before=0", "before=x", "before=99999999999999999999"])
    def test_it_answers_400_for_a_bad_parameter(self, api_for, query):
        assert api_for("admin").get(f"/api/v1/audit?{query}").status_code == 400
