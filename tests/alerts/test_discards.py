"""Discard alerts (contacts.alerts.discards): which transitions raise them, each one's fix link, grouping a burst."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.alerts import discards as alerts
from contacts.cce.models import DialedNumber
from contacts.core import lifecycle
from contacts.core import permissions as roles
from contacts.core.lifecycle import DISCARD_REASONS, Kind, Reason, Source, error_reasons
from contacts.core.models import FeedNotification
from tests.alerts.support import discard, discards, feed_of, make_contact


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
class FixLinkPermissionTests:
    """A fix link into the admin is shown only to a user who may act on that page (issue: supervisors saw
    links that answered 403)."""

    def page(self, client) -> str:
        return client.get("/").content.decode()

    def test_a_supervisor_sees_the_alert_without_its_admin_links(self, sup_client):
        discard(make_contact(selector="NoScript"), Reason.NO_SCRIPT)
        alert = feed_of(sup_client)["alerts"][0]
        assert alert["link"]["perm"] == "contacts.change_dialednumber"
        page = self.page(sup_client)
        assert "No routing script" in page and f'href="{alert["link"]["url"]}"' not in page
        assert "contacts.change_dialednumber" not in sup_client.get("/").context["alerts"]["config"]["perms"]

    def test_an_admin_sees_the_admin_links_they_may_follow(self, client, django_user_model):
        from tests.alerts.support import make_user

        admin = make_user(django_user_model, "adm", roles.ADMINS)
        admin.is_staff = True
        admin.save()
        client.force_login(admin)
        discard(make_contact(selector="NoScript"), Reason.NO_SCRIPT)
        alert = feed_of(client)["alerts"][0]
        assert f'href="{alert["link"]["url"]}"' in self.page(client)
        assert client.get(alert["link"]["url"]).status_code == 200

    def test_a_link_to_the_contact_itself_needs_no_admin_permission(self, sup_client):
        discard(make_contact(selector="Sales"), Reason.INVALID_FIELD_LENGTH)
        alert = feed_of(sup_client)["alerts"][0]
        assert alert["link"]["perm"] is None and f'href="{alert["link"]["url"]}"' in self.page(sup_client)

    def test_followable_reads_the_permission_names(self):
        link = {"url": "/admin/x", "perm": "contacts.change_mediaroutingdomain"}
        assert alerts.followable(link, ["contacts.change_mediaroutingdomain"])
        assert not alerts.followable(link, ["contacts.view_mediaroutingdomain"])
        assert not alerts.followable(None, [])


@pytest.mark.django_db
class FixThenResubmitTests:
    """An alert's fix link takes the admin back to the alert's resubmit offer once the fix is saved."""

    def test_saving_the_fix_returns_to_the_resubmit_offer_of_the_alerts_group(self, client, django_user_model):
        from contacts.cce.models import RoutingScript

        client.force_login(django_user_model.objects.create_superuser("root", password="pw"))
        discard(make_contact(selector="Nowhere"), Reason.INVALID_SCRIPT_SELECTOR, mrd=None)
        alert = feed_of(client)["alerts"][0]
        offer = "/contacts/bulk/resubmit?state=discarded&reason=NOTIFICATION_INVALID_SCRIPT_SELECTOR&selector=Nowhere"
        assert "next=" in alert["link"]["url"]
        form = client.get(alert["link"]["url"])
        assert 'value="Nowhere"' in form.content.decode()
        saved = client.post(alert["link"]["url"], {"string": "Nowhere", "mrd": 5000,
                                                   "script": RoutingScript.objects.get(name="Route to agents").pk})
        assert (saved.status_code, saved["Location"]) == (302, offer)
        preview = client.get(offer).content.decode()
        assert 'id="preview-count">1<' in preview and "every one would be queued" in preview

    def test_it_never_returns_to_another_site(self, client, django_user_model):
        client.force_login(django_user_model.objects.create_superuser("root", password="pw"))
        mrd = "/admin/contacts/mediaroutingdomain/5001/change/?next=https://evil.example/"
        saved = client.post(mrd, {"id": 5001, "name": "Email", "routing_enabled": "on", "max_tasks_in_queue": 0,
                                  "task_life_seconds": 0, "service_level_seconds": 20})
        assert saved.status_code == 302 and saved["Location"] == "/admin/contacts/mediaroutingdomain/"
