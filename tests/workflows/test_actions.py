"""contacts.workflows.actions and the single resubmit/cancel endpoints: what a resubmit and a cancel do, when they are
refused, decide()'s verdict in words, and (with a real worker) a resubmitted task and callback being handled."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from contacts.cce.models import DialedNumber, MediaRoutingDomain
from contacts.core import lifecycle
from contacts.core.lifecycle import Reason, Source, State
from contacts.core.models import Contact, FeedNotification
from contacts.workflows import actions
from contacts.workflows.actions import ActionRefused, Why
from contacts.workflows.models import AuditEntry, ResubmitClaim
from tests.polling import wait_for
from tests.workflow_support import callback, client_for, discard, make_user, pair, seed, task

RENOTIFYING = ("queued", "TASK_RENOTIFY_REQUESTED")
HANDLED = ("handled", "EXTERNALLY_HANDLED")
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def admin(db):
    return make_user("admin")


@pytest.mark.django_db
class ResubmitTests:
    def test_it_renotifies_a_discarded_task_in_place(self, admin):
        contact = discard(task())
        result = actions.resubmit(contact, source=Source.DASHBOARD, user=admin, comment="fixed the DN")
        assert result.pk == contact.pk
        assert pair(contact) == RENOTIFYING
        row = contact.transitions.order_by("-id").first()
        assert (row.rule, row.user, row.comment, row.source) == ("T9", admin, "fixed the DN", "dashboard")

    def test_it_gives_a_task_the_script_selector_the_admin_picked(self, admin):
        contact = discard(task("Missing"))
        actions.resubmit(contact, source=Source.DASHBOARD, user=admin, script_selector="Sales")
        assert Contact.objects.get(pk=contact.pk).script_selector == "Sales"

    def test_it_submits_a_discarded_callback_again_as_a_new_contact(self, admin):
        original = discard(callback(tags=["vip"], variables=[{"name": "cv_1", "value": "x"}]))
        new = actions.resubmit(original, source=Source.DASHBOARD, user=admin)
        assert new.pk != original.pk
        assert pair(new) == ("unread", "")
        assert pair(original) == ("discarded", Reason.INVALID_SCRIPT_SELECTOR)
        assert (new.resubmitted_from, new.attempt) == (original, original.attempt + 1)
        assert (new.name, new.media_address, new.tags, new.variables) == (
            original.name, original.media_address, ["vip"], [{"name": "cv_1", "value": "x"}])

    def test_it_resubmits_a_callback_at_most_once(self, admin):
        original = discard(callback())
        actions.resubmit(original, source=Source.DASHBOARD, user=admin)
        with pytest.raises(ActionRefused) as refused:
            actions.resubmit(Contact.objects.get(pk=original.pk), source=Source.DASHBOARD, user=admin)
        assert refused.value.code == Why.ALREADY_RESUBMITTED
        assert Contact.objects.filter(resubmitted_from=original).count() == 1

    @pytest.mark.parametrize("make", [task, callback])
    def test_it_never_resubmits_a_cancelled_contact(self, admin, make):
        contact = make()
        actions.request_cancel(contact, source=Source.DASHBOARD, user=admin)
        reason = Reason.TASK_CANCEL_SUCCEEDED if contact.kind == "task" else Reason.CALLBACK_CANCEL_SUCCEEDED
        lifecycle.transition(contact, State.DISCARDED, reason, source=Source.CCE)
        assert actions.resubmittable(contact).code == Why.CANCELLED
        with pytest.raises(ActionRefused):
            actions.resubmit(contact, source=Source.DASHBOARD, user=admin)
        assert Contact.objects.count() == 1

    def test_it_refuses_a_contact_that_is_not_discarded(self, admin):
        contact = task()
        with pytest.raises(ActionRefused) as refused:
            actions.resubmit(contact, source=Source.DASHBOARD, user=admin)
        assert refused.value.code == Why.NOT_DISCARDED
        assert pair(contact) == ("unread", "")

    def test_it_refuses_a_discard_other_than_the_one_the_admin_saw(self, admin):
        contact = discard(task())
        seen = actions.latest_discard(contact).pk
        with pytest.raises(ActionRefused) as refused:
            actions.resubmit(contact, source=Source.DASHBOARD, user=admin, discard_id=seen + 1000)
        assert refused.value.code == Why.CHANGED
        assert not ResubmitClaim.objects.exists()

    def test_it_resubmits_a_task_again_once_it_is_discarded_again(self, admin):
        contact = discard(task())
        actions.resubmit(contact, source=Source.DASHBOARD, user=admin)
        lifecycle.transition(contact, State.DISCARDED, Reason.NO_SCRIPT, source=Source.CCE)  # T11
        actions.resubmit(contact, source=Source.DASHBOARD, user=admin)
        assert ResubmitClaim.objects.filter(contact=contact).count() == 2
        assert list(contact.transitions.values_list("rule", flat=True)) == ["T1", "T5", "T9", "T11", "T9"]

    def test_it_claims_each_discard_once(self, admin):
        contact = discard(task())
        ResubmitClaim.objects.create(contact=contact, discard=actions.latest_discard(contact))
        with pytest.raises(ActionRefused) as refused:
            actions.resubmit(contact, source=Source.DASHBOARD, user=admin)
        assert refused.value.code == Why.ALREADY_RESUBMITTED
        assert pair(contact)[0] == "discarded"

    def test_it_audits_a_resubmit_with_who_and_why(self, admin):
        original = discard(callback())
        new = actions.resubmit(original, source=Source.DASHBOARD, user=admin, comment="retry")
        entry = AuditEntry.objects.get()
        assert (entry.action, entry.username, entry.comment, entry.contact) == ("resubmit", "admin", "retry", original)
        assert entry.details["new_contact"] == new.public_id


@pytest.mark.django_db
class CancelTests:
    def test_it_requests_the_cancel_of_an_unread_task(self, admin):
        contact = task()
        row = actions.request_cancel(contact, source=Source.DASHBOARD, user=admin, comment="duplicate")
        assert (row.rule, pair(contact)) == ("T6", ("queued", Reason.TASK_CANCEL_REQUESTED))

    def test_it_requests_the_cancel_of_a_queued_callback(self, admin):
        contact = callback()
        lifecycle.transition(contact, State.QUEUED, Reason.EXTERNALLY_HANDLED, source=Source.CCE)
        assert actions.request_cancel(contact, source=Source.ADMIN, user=admin).rule == "C5"

    def test_it_refuses_a_cancel_already_in_flight(self, admin):
        contact = task()
        actions.request_cancel(contact, source=Source.DASHBOARD, user=admin)
        with pytest.raises(ActionRefused) as refused:
            actions.request_cancel(contact, source=Source.DASHBOARD, user=admin)
        assert refused.value.code == Why.NOT_CANCELLABLE
        assert AuditEntry.objects.count() == 1

    def test_it_audits_a_person_s_cancel_but_not_the_api_s(self, admin):
        actions.request_cancel(task(), source=Source.API)
        actions.request_cancel(task(), source=Source.DASHBOARD, user=admin, comment="dup")
        assert list(AuditEntry.objects.values_list("action", "comment")) == [("cancel", "dup")]


@pytest.mark.django_db
class CauseTests:
    @pytest.fixture(autouse=True)
    def configuration(self, db):
        seed()

    def test_it_says_the_script_selector_still_does_not_exist(self):
        verdict = actions.cause_still_present(discard(task("Nope")))
        assert (verdict.would_queue, verdict.still_present) == (False, True)
        assert "script selector “Nope” still does not exist" in verdict.message

    def test_it_says_the_cause_is_gone_once_the_selector_exists(self):
        contact = discard(task("Later"))
        DialedNumber.objects.create(string="Later", mrd_id=5000, script=DialedNumber.objects.get(string="Sales").script)
        verdict = actions.cause_still_present(contact)
        assert verdict.would_queue and "would be queued in MRD 5000" in verdict.message

    def test_it_checks_the_script_selector_the_admin_would_pick(self):
        assert actions.cause_still_present(discard(task("Nope")), "Sales").would_queue

    def test_it_names_another_cause_when_one_remains(self):
        verdict = actions.cause_still_present(discard(task("EmailDN")))  # MRD 5001 has routing disabled
        assert (verdict.reason, verdict.still_present) == (Reason.MEDIA_ROUTING_DISABLED, False)
        assert "routing is disabled on MRD 5001" in verdict.message

    def test_it_says_routing_is_still_disabled(self):
        verdict = actions.cause_still_present(discard(task("EmailDN"), Reason.MEDIA_ROUTING_DISABLED))
        assert "routing is still disabled on MRD 5001" in verdict.message

    def test_it_says_the_callback_s_mrd_still_does_not_exist(self):
        verdict = actions.cause_still_present(discard(callback(feed_id=201), Reason.INVALID_MRD_ID))
        assert "MRD 9999 still does not exist" in verdict.message


@pytest.mark.django_db
class ResubmitViewTests:
    def test_it_previews_the_verdict_before_the_admin_confirms(self):
        seed()
        contact = discard(task("Nope"))
        body = client_for("admin").get(f"/contacts/{contact.public_id}/resubmit/preview").json()
        assert body["resubmittable"] and body["discard_id"] == actions.latest_discard(contact).pk
        assert "still does not exist" in body["verdict"]["message"]
        assert pair(contact)[0] == "discarded"

    def test_it_refuses_a_preview_selector_with_a_nul(self):
        contact = discard(task())
        response = client_for("admin").get(f"/contacts/{contact.public_id}/resubmit/preview",
                                           {"script_selector": "Sales\x00"})  # PostgreSQL refused the query: a 500
        assert response.status_code == 400 and "script_selector" in response.json()["fields"]

    def test_it_answers_a_preview_of_an_unknown_contact_404_before_it_reads_the_selector(self):
        response = client_for("admin").get(f"/contacts/{'0' * 32}/resubmit/preview", {"script_selector": "\x00"})
        assert response.status_code == 404

    def test_it_resubmits_on_confirmation_and_answers_json(self):
        contact = discard(task())
        response = client_for("admin").post(f"/contacts/{contact.public_id}/resubmit/confirm",
                                            {"comment": "go", "script_selector": "Sales"}, **JSON)
        assert response.status_code == 200 and response.json()["ok"]
        assert response.json()["audit"]["comment"] == "go"
        assert pair(contact) == RENOTIFYING

    def test_it_answers_409_and_changes_nothing_when_refused(self):
        contact = task()
        response = client_for("admin").post(f"/contacts/{contact.public_id}/resubmit/confirm", {}, **JSON)
        assert response.status_code == 409 and "only a discarded contact" in response.json()["error"]

    def test_it_redirects_a_form_post_back_to_the_contact_with_a_message(self):
        contact = discard(callback())
        response = client_for("admin").post(f"/contacts/{contact.public_id}/resubmit/confirm", follow=True)
        assert "Resubmitted as a new callback" in response.content.decode()

    def test_it_cancels_from_the_contact_page(self):
        contact = task()
        response = client_for("admin").post(f"/contacts/{contact.public_id}/cancel", {"comment": "dup"})
        assert response.status_code == 302
        assert pair(contact) == ("queued", Reason.TASK_CANCEL_REQUESTED)

    def test_it_answers_a_browser_whose_accept_header_django_cannot_parse_with_the_page(self):
        contact = task()
        response = client_for("admin").post(f"/contacts/{contact.public_id}/cancel", HTTP_ACCEPT=";0*=0''")
        assert response.status_code == 302  # was a 500: Django raises ValueError reading that header

    def test_it_shows_the_verdict_and_the_actions_on_the_contact_page(self):
        seed()
        contact = discard(task("Nope"))
        body = client_for("admin").get(f"/contacts/{contact.public_id}").content.decode()
        assert "script selector “Nope” still does not exist" in body
        assert f'data-resubmit="{contact.public_id}"' in body


def race_resubmits(contact_id: int, user, racers: int = 2) -> list[str]:
    """`racers` resubmits of one contact, each from its own thread and connection, released by one barrier."""
    barrier = threading.Barrier(racers)
    outcomes: list[str] = []

    def attempt() -> None:
        try:
            contact = Contact.objects.get(pk=contact_id)
            barrier.wait(timeout=10)
            actions.resubmit(contact, source=Source.DASHBOARD, user=user)
            outcomes.append("ok")
        except ActionRefused as refused:
            outcomes.append(refused.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class ResubmitRaceTests:
    def test_it_lets_one_of_two_simultaneous_resubmits_win(self):
        admin = make_user("admin")
        for make in [callback, task] * 10:
            original = discard(make())
            assert sorted(race_resubmits(original.pk, admin)) in (
                [Why.ALREADY_RESUBMITTED, "ok"], [Why.MOVED, "ok"], [Why.NOT_DISCARDED, "ok"])
            assert ResubmitClaim.objects.filter(contact=original).count() == 1
            assert Contact.objects.filter(resubmitted_from=original).count() == (make is callback)


@pytest.mark.django_db(transaction=True)
class ResubmitWorkerTests:
    def test_it_resubmits_a_task_and_a_callback_until_both_are_handled(self, worker):
        seed()
        FeedNotification.objects.filter(feed_id=200).update(script_selector="Later")
        lost_task, lost_callback = task("Later"), callback()
        reason = Reason.INVALID_SCRIPT_SELECTOR
        wait_for(lambda: pair(lost_task) == ("discarded", reason) and pair(lost_callback) == ("discarded", reason))
        sales = DialedNumber.objects.get(string="Sales")
        DialedNumber.objects.create(string="Later", mrd=MediaRoutingDomain.objects.get(pk=1), script=sales.script)

        client = client_for("admin")
        for contact in (lost_task, lost_callback):
            response = client.post(f"/contacts/{contact.public_id}/resubmit/confirm", **JSON)
            assert response.status_code == 200, response.content
        new_callback = Contact.objects.get(resubmitted_from=lost_callback)
        wait_for(lambda: pair(lost_task) == HANDLED and pair(new_callback) == HANDLED, what="both handled")
        assert pair(lost_callback) == ("discarded", reason)
        assert Contact.objects.get(pk=lost_task.pk).attempt == 2
