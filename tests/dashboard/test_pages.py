"""The dashboard pages: who may see them, the overview's numbers, the list's filters and keyset pages, the
detail page, and query counts that stay the same at 100 and 10,000 contacts.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.cce.models import Agent, AgentAssignment, CceSettings, MediaRoutingDomain
from contacts.core import lifecycle
from contacts.core import permissions as roles
from contacts.core.lifecycle import Source
from contacts.core.models import Contact, Feed, FeedType, Transition
from contacts.dashboard import lists, overview
from contacts.figures import tallies

# (state, reason, MRD, script selector used) cycled over bulk-created contacts.
POSITIONS = [
    ("unread", "", None, ""),
    ("queued", "EXTERNALLY_ROUTED", 1, "Sales"),
    ("reserved", "EXTERNALLY_ROUTED", 1, "Sales"),
    ("handled", "EXTERNALLY_HANDLED", 2, "Support"),
    ("discarded", "NOTIFICATION_NO_SCRIPT", 2, "Support"),
]


def bulk_contacts(feed: Feed, count: int, start: int = 0) -> None:
    """Fixture data, written straight to the tables for speed (product code moves contacts via lifecycle)."""
    contacts = []
    for index in range(start, start + count):
        state, reason, mrd, selector = POSITIONS[index % len(POSITIONS)]
        contacts.append(
            Contact(kind="task", feed=feed, state=state, reason=reason, cce_mrd_id=mrd, cce_script_selector=selector,
                    name=f"Contact {index}", title=f"Order {index}", estimated_wait=index % 7)
        )  # fmt: skip
    created = Contact.objects.bulk_create(contacts, batch_size=2000)
    Transition.objects.bulk_create(
        [Transition(contact=c, rule="X", from_state="unread", to_state=c.state, to_reason=c.reason, source=Source.CCE)
         for c in created],
        batch_size=2000,
    )
    tallies.rebuild()  # rows written straight to the table: their tallies too


def add_to_group(user, group_name: str):
    roles.ensure_role_groups()
    user.groups.add(Group.objects.get(name=group_name))
    return user


@pytest.fixture
def feed(db) -> Feed:
    return Feed.objects.create(id=100, name="Web tasks", type=FeedType.TASK)


@pytest.fixture
def supervisor(django_user_model):
    return add_to_group(django_user_model.objects.create_user("sup"), roles.SUPERVISORS)


@pytest.fixture
def sup_client(client, supervisor):
    client.force_login(supervisor)
    return client


def set_created(contact: Contact, when: datetime) -> None:
    Contact.objects.filter(pk=contact.pk).update(created_at=when)


@pytest.mark.django_db
class PermissionTests:
    PAGES = ["/", "/contacts/", "/contacts/0123456789ABCDEF0123456789ABCDEF"]

    @pytest.mark.parametrize("url", PAGES)
    def test_it_sends_anonymous_visitors_to_the_login_form(self, client, url):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={url}"

    @pytest.mark.parametrize("url", PAGES[:2])
    def test_it_forbids_a_user_without_the_view_permission(self, client, django_user_model, url):
        client.force_login(django_user_model.objects.create_user("nobody"))
        assert client.get(url).status_code == 403

    @pytest.mark.parametrize("group", [roles.SUPERVISORS, roles.ADMINS, None])
    def test_it_shows_the_dashboard_to_supervisors_admins_and_superusers(self, client, django_user_model, group):
        user = django_user_model.objects.create_user("u", is_superuser=group is None)
        client.force_login(add_to_group(user, group) if group else user)
        response = client.get("/")
        assert response.status_code == 200
        assert b'id="live-status"' in response.content and b"js/dashboard.js" in response.content

    @pytest.mark.parametrize("url", ["/overview", "/events?after=0"])
    def test_it_answers_json_401_and_403_on_the_feeds(self, client, django_user_model, url):
        assert client.get(url).status_code == 401
        client.force_login(django_user_model.objects.create_user("nobody"))
        assert client.get(url).status_code == 403

    def test_it_answers_404_for_an_unknown_contact(self, sup_client):
        assert sup_client.get("/contacts/0123456789ABCDEF0123456789ABCDEF").status_code == 404

    @pytest.mark.parametrize("contact_id", ["%00", "A%00B", "%C3%A9", "x" * 33, "%20"])
    @pytest.mark.parametrize("suffix", ["", "/resubmit", "/resubmit/preview", "/resubmit/confirm", "/cancel"])
    def test_it_answers_404_for_an_id_no_contact_can_have(self, admin_client, contact_id, suffix):
        # A NUL byte reached PostgreSQL's query and failed there with 500.
        assert admin_client.get(f"/contacts/{contact_id}{suffix}").status_code == 404


@pytest.mark.django_db
class OverviewTests:
    @pytest.fixture(autouse=True)
    def mrds(self, db) -> None:
        """The MRDs the contacts name are configured (an MRD id the configuration lacks has a row of its own)."""
        for mrd_id in (1, 2):
            MediaRoutingDomain.objects.get_or_create(id=mrd_id)

    def rows(self, key: str, now: datetime | None = None) -> dict:
        grouping = next(g for g in overview.overview(now)["groupings"] if g["key"] == key)
        return {row["value"]: row for row in grouping["rows"]}

    def test_it_counts_by_state_and_reason_per_mrd_with_a_not_yet_submitted_row(self, feed):
        bulk_contacts(feed, 10)
        rows = self.rows("mrd")
        assert list(rows) == [1, 2, None]
        assert rows[1]["states"]["queued"] == {
            "total": 2, "reasons": [{"reason": "EXTERNALLY_ROUTED", "label": "Externally routed", "count": 2}]
        }  # fmt: skip
        assert rows[2]["states"]["discarded"]["reasons"][0]["label"] == "No routing script"
        assert (rows[None]["label"], rows[None]["states"]["unread"]["total"], rows[None]["total"]) == (
            "not yet submitted", 2, 2,
        )  # fmt: skip

    def test_it_counts_moves_into_finished_positions_since_midnight_and_waiting_contacts_whenever_they_came(
        self, feed
    ):
        yesterday = timezone.now() - timedelta(days=2)
        for state, reason in [("handled", "EXTERNALLY_HANDLED"), ("queued", "EXTERNALLY_ROUTED")]:
            for when in (yesterday, timezone.now()):
                contact = Contact.objects.create(kind="task", feed=feed, state=state, reason=reason, cce_mrd_id=1)
                set_created(contact, when)
                Transition.objects.create(contact=contact, rule="X", from_state="unread", to_state=state,
                                          to_reason=reason, source=Source.CCE, created_at=when)
        # Finished again today: a contact discarded, resubmitted and handled counts in both positions.
        again = Contact.objects.create(kind="task", feed=feed, state="handled", reason="EXTERNALLY_HANDLED",
                                       cce_mrd_id=1)
        for state, reason in [("discarded", "NOTIFICATION_NO_SCRIPT"), ("handled", "EXTERNALLY_HANDLED")]:
            Transition.objects.create(contact=again, rule="X", from_state="queued", to_state=state, to_reason=reason,
                                      source=Source.CCE)
        tallies.rebuild()
        states = self.rows("mrd")[1]["states"]
        assert (states["handled"]["total"], states["discarded"]["total"], states["queued"]["total"]) == (2, 1, 2)

    def test_it_groups_by_script_selector_too(self, feed):
        bulk_contacts(feed, 5)
        assert {value: row["total"] for value, row in self.rows("selector").items()} == {
            "Sales": 2, "Support": 2, None: 1
        }  # fmt: skip

    def test_it_links_the_oldest_waiting_contact_with_its_age(self, feed):
        bulk_contacts(feed, 10)
        old = Contact.objects.get(name="Contact 6")  # queued, MRD 1
        set_created(old, timezone.now() - timedelta(minutes=5))
        oldest = self.rows("mrd")[1]["oldest"]
        assert oldest["contact"] == old.public_id
        assert oldest["age"].startswith("5m")

    def test_it_shows_the_estimated_wait_of_the_newest_queued_contact(self, feed):
        bulk_contacts(feed, 10)
        newest = Contact.objects.get(name="Contact 6")
        later = timezone.now() + timedelta(seconds=1)
        Contact.objects.filter(pk=newest.pk).update(estimated_wait=125, created_at=later)
        row = self.rows("mrd")[1]
        assert (row["estimated_wait"], row["estimated_wait_text"]) == (125, "2m 05s")

    @override_settings(TIME_ZONE="America/New_York")
    def test_it_counts_handled_and_discarded_in_15_minutes_and_since_local_midnight(self, feed):
        now = datetime(2026, 3, 20, 14, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York"))
        contact = Contact.objects.create(kind="task", feed=feed, state="handled", cce_mrd_id=1)
        for minutes_ago, state in [(5, "handled"), (10, "discarded"), (120, "handled"), (60 * 14 + 30, "handled")]:
            Transition.objects.create(contact=contact, rule="X", from_state="queued", to_state=state, source=Source.CCE,
                                      created_at=now - timedelta(minutes=minutes_ago))  # fmt: skip
        tallies.rebuild()
        row = self.rows("mrd", now)[1]
        # 14h30 ago is 23:30 yesterday in New York (but today in UTC): not counted.
        assert [row[name] for name in overview.THROUGHPUT_FIELDS] == [1, 2, 1, 1]

    def test_it_shows_agents_per_mrd_and_the_throttle_backlog(self, feed):
        mrd = MediaRoutingDomain.objects.filter(id=1).update(name="Chat") and MediaRoutingDomain.objects.get(id=1)
        MediaRoutingDomain.objects.filter(id=2).update(name="Email", routing_enabled=False)
        busy = Agent.objects.create(name="A", agent_id="1001", mrd=mrd, max_concurrent=3)
        Agent.objects.create(name="B", agent_id="1002", mrd=mrd, max_concurrent=2)
        Agent.objects.create(name="C", agent_id="1003", mrd=mrd, max_concurrent=5, ready=False)
        now = timezone.now()
        for _ in range(2):
            contact = Contact.objects.create(kind="task", feed=feed, state="reserved", reason="EXTERNALLY_ROUTED")
            AgentAssignment.objects.create(agent=busy, contact=contact, mrd_id=1, started_at=now, ends_at=now)
        Contact.objects.create(kind="task", feed=feed)  # unread: waiting in the throttle backlog
        CceSettings.objects.create(backlog_size=50, throttle_per_minute=60)
        data = overview.overview()
        assert data["agents"] == [
            {"mrd": 1, "name": "Chat", "routing": True, "agents": 3, "ready": 2, "in_use": 2, "capacity": 5},
            {"mrd": 2, "name": "Email", "routing": False, "agents": 0, "ready": 0, "in_use": 0, "capacity": 0},
        ]
        assert data["backlog"] == {"length": 1, "size": 50, "per_minute": 60, "used": 0, "window_seconds": 60.0}

    def test_it_counts_successful_cancels_as_cancelled_never_as_discards(self, feed):
        contact = Contact.objects.create(kind="task", feed=feed, state="discarded", cce_mrd_id=1,
                                         cce_script_selector="Sales", reason="NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED")
        for reason in ("NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED", "NOTIFICATION_NO_SCRIPT"):
            Transition.objects.create(contact=contact, rule="X", from_state="queued", to_state="discarded",
                                      to_reason=reason, source=Source.CCE)
        tallies.rebuild()
        for key, value in (("mrd", 1), ("selector", "Sales")):
            row = self.rows(key)[value]
            assert (row["states"]["discarded"]["total"], row["states"]["cancelled"]["total"]) == (1, 1)
            assert [item["label"] for item in row["states"]["cancelled"]["reasons"]] == ["Cancelled (task)"]
            assert (row["discarded_15m"], row["discarded_today"], row["cancelled_today"]) == (1, 1, 1)
        assert overview.overview()["kpis"]["total"]["figures"]["cancelled"]["value"] == 1
        assert overview.overview()["kpis"]["total"]["figures"]["discarded"]["value"] == 1

    def test_it_gives_the_mrd_ids_the_configuration_lacks_one_row_together(self, feed):
        for mrd_id in (9999, 9998, 1):
            Contact.objects.create(kind="callback", feed=feed, state="queued", reason="EXTERNALLY_ROUTED",
                                   cce_mrd_id=mrd_id)
        rows = self.rows("mrd")
        assert list(rows) == [1, overview.UNKNOWN_MRD]
        assert (rows[overview.UNKNOWN_MRD]["label"], rows[overview.UNKNOWN_MRD]["total"]) == ("MRD not configured", 2)
        kpi_rows = overview.overview()["kpis"]["rows"]
        assert [(row["label"], row["figures"]["waiting"]["value"]) for row in kpi_rows] == [
            ("MRD 1", 1), ("MRD 2", 0), ("No configured MRD", 2)
        ]  # fmt: skip

    def test_it_renders_the_overview_on_the_page_without_javascript(self, sup_client, feed):
        bulk_contacts(feed, 5)
        body = sup_client.get("/").content.decode()
        assert 'data-group="mrd:1"' in body and "not yet submitted" in body and "Contact 4" in body


@pytest.mark.django_db
class ContactListTests:
    def names(self, client, **params) -> list[str]:
        response = client.get("/contacts/", params)
        assert response.status_code == 200
        return [contact.name for contact in response.context["page"].contacts]

    @pytest.fixture
    def contacts(self, feed):
        other = Feed.objects.create(id=200, name="Callbacks", type=FeedType.CALLBACK)
        make = Contact.objects.create
        make(kind="task", feed=feed, name="Ada Lovelace", title="Order 4711", state="queued",
             reason="EXTERNALLY_ROUTED", cce_mrd_id=1, cce_script_selector="Sales")  # fmt: skip
        make(kind="task", feed=feed, name="Alan Turing", title="Refund", state="discarded",
             reason="NOTIFICATION_NO_SCRIPT", cce_mrd_id=2, cce_script_selector="Support")  # fmt: skip
        make(kind="callback", feed=other, name="Grace Hopper", title="Call me", media_address="555")
        old = make(kind="task", feed=feed, name="Old Timer", title="Ancient")
        set_created(old, timezone.now() - timedelta(days=2))

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"kind": "callback"}, ["Grace Hopper"]),
            ({"state": "discarded"}, ["Alan Turing"]),
            ({"reason": "EXTERNALLY_ROUTED"}, ["Ada Lovelace"]),
            ({"reason": "none"}, ["Grace Hopper", "Old Timer"]),
            ({"feed": "200"}, ["Grace Hopper"]),
            ({"selector": "Support"}, ["Alan Turing"]),
            ({"selector": "none"}, ["Grace Hopper", "Old Timer"]),
            ({"mrd": "1"}, ["Ada Lovelace"]),
            ({"mrd": "none"}, ["Grace Hopper", "Old Timer"]),
            ({"window": "24h", "kind": "task"}, ["Alan Turing", "Ada Lovelace"]),
            ({"q": "hopp"}, ["Grace Hopper"]),
            ({"q": "4711"}, ["Ada Lovelace"]),
        ],
    )
    def test_it_filters(self, sup_client, contacts, params, expected):
        assert self.names(sup_client, **params) == expected

    def test_it_names_reasons_in_plain_words_with_the_code_on_hover_in_the_filter_and_the_table(self, sup_client,
                                                                                                 contacts):
        page = sup_client.get("/contacts/").content.decode()
        # The filter offers the same words the table shows; the code is the option's value.
        assert '<option value="NOTIFICATION_NO_SCRIPT">No routing script</option>' in page
        assert '<td data-field="reason" title="NOTIFICATION_NO_SCRIPT">No routing script</td>' in page
        assert "Invalid Mrd Id" not in page and "Unknown MRD" in page

    @override_settings(TIME_ZONE="America/New_York")
    def test_it_names_the_contact_centers_time_zone_on_the_page(self, sup_client, contacts):
        assert "Times in America/New_York, the contact center" in sup_client.get("/contacts/").content.decode()

    def test_it_ignores_an_mrd_filter_with_a_trailing_newline(self, sup_client, contacts):
        # "none\n" passed the form's regex ($ matches before a final newline) and reached the query: a 500.
        assert len(self.names(sup_client, mrd="none\n")) == 4
        assert sup_client.get("/contacts.csv", {"mrd": "none\n"}).status_code == 400

    def test_it_finds_a_contact_by_part_of_its_public_id(self, sup_client, contacts):
        ada = Contact.objects.get(name="Ada Lovelace")
        assert self.names(sup_client, q=ada.public_id[3:12].lower()) == ["Ada Lovelace"]

    def test_it_keeps_the_filters_in_the_form_and_the_page_links(self, sup_client, feed):
        bulk_contacts(feed, lists.LIST_PAGE + 10)
        body = sup_client.get("/contacts/", {"kind": "task", "q": "Contact"}).content.decode()
        assert 'value="Contact"' in body
        assert "?kind=task&amp;q=Contact&amp;before=" in body

    def test_it_shows_state_reason_queue_and_age(self, sup_client, contacts):
        body = sup_client.get("/contacts/").content.decode()
        assert "NOTIFICATION_NO_SCRIPT" in body and "MRD 2 / Support" in body and "not yet submitted" in body

    def test_it_pages_by_keyset_without_offset_through_ties(self, sup_client, feed):
        bulk_contacts(feed, 2 * lists.LIST_PAGE + 7)
        base = timezone.now() - timedelta(hours=1)
        rows = list(Contact.objects.order_by("id"))
        for index, contact in enumerate(rows):
            contact.created_at = base + timedelta(seconds=index // 4)  # four contacts share each instant
        Contact.objects.bulk_update(rows, ["created_at"])
        expected = [c.pk for c in sorted(rows, key=lambda c: (c.created_at, c.pk), reverse=True)]

        seen, pages, params = [], [], {}
        while True:
            with CaptureQueriesContext(connection) as queries:
                page = sup_client.get("/contacts/", params).context["page"]
            assert not any("OFFSET" in q["sql"].upper() for q in queries.captured_queries)
            pages.append([c.pk for c in page.contacts])
            seen += pages[-1]
            if not page.older:
                break
            params = {"before": str(page.older)}
        assert seen == expected
        back = sup_client.get("/contacts/", {"after": str(page.newer)}).context["page"]
        assert [c.pk for c in back.contacts] == pages[-2]

    def test_it_passes_the_filters_to_the_live_script(self, sup_client, contacts):
        config = sup_client.get("/contacts/", {"state": "queued", "window": "1h"}).context["live"]
        assert config["filters"] == {"state": "queued", "window": 3600.0}
        assert config["first_page"] is True


@pytest.mark.django_db
class ContactDetailTests:
    @pytest.fixture
    def discarded(self, feed, django_user_model):
        admin = django_user_model.objects.create_user("boss")
        payload = {"description": "Line one", "tags": ["vip"], "variables": [{"name": "cv_1", "value": "42"}]}
        contact = lifecycle.create("callback", feed, name="Ada", title="Call", media_address="555-0100", **payload)
        used = {"cce_mrd_id": 7, "cce_script_selector": "CallbackDN", "estimated_wait": 90}
        lifecycle.transition(contact, "queued", "EXTERNALLY_HANDLED", source=Source.CCE, changes=used)
        lifecycle.transition(contact, "discarded", "NOTIFICATION_CCE_CONNECTION_FAILURE", source=Source.ADMIN,
                             user=admin, comment="PG down")  # fmt: skip
        return contact

    def test_it_shows_the_timeline_with_users_comments_and_time_spent(self, sup_client, discarded):
        response = sup_client.get(f"/contacts/{discarded.public_id}")
        rows = response.context["timeline"]
        assert [row.rule for row in rows] == ["C1", "C2", "C4"]
        assert rows[0].spent == "—" and rows[1].spent.endswith("s")
        body = response.content.decode()
        assert "boss" in body and "PG down" in body

    def test_it_shows_the_payload_and_cce_fields(self, sup_client, discarded):
        body = sup_client.get(f"/contacts/{discarded.public_id}").content.decode()
        for text in ["555-0100", "Line one", "vip", "cv_1", "42", "CallbackDN", "1m 30s"]:
            assert text in body

    def test_it_explains_a_discard_with_its_cause_and_fix(self, sup_client, discarded):
        body = sup_client.get(f"/contacts/{discarded.public_id}").content.decode()
        assert "The connection to CCE (MR PG) is lost" in body and "Restore the connection." in body

    def test_it_links_the_resubmission_lineage_both_ways(self, sup_client, discarded, feed):
        again = Contact.objects.create(kind="callback", feed=feed, name="Ada again", resubmitted_from=discarded)
        assert f"/contacts/{again.public_id}" in sup_client.get(f"/contacts/{discarded.public_id}").content.decode()
        assert f"/contacts/{discarded.public_id}" in sup_client.get(f"/contacts/{again.public_id}").content.decode()


@pytest.mark.django_db
class QueryCountTests:
    """Each page's query count is the same at 100 and at 10,000 contacts."""

    def count(self, client, url: str) -> int:
        client.get(url)  # warm per-process caches (content types) so both measurements are alike
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    def counts(self, client, feed, urls) -> tuple[list[int], list[int]]:
        bulk_contacts(feed, 100)
        small = [self.count(client, url()) for url in urls]
        bulk_contacts(feed, 9_900, start=100)
        assert Contact.objects.count() >= 10_000
        return small, [self.count(client, url()) for url in urls]

    def test_it_keeps_the_overview_constant(self, sup_client, feed):
        small, large = self.counts(sup_client, feed, [lambda: "/", lambda: "/overview"])
        assert small == large

    def test_it_keeps_the_list_constant(self, sup_client, feed):
        cursor = lambda: str(lists.Cursor.of(Contact.objects.order_by("-created_at", "-id")[60]))  # noqa: E731
        urls = [
            lambda: "/contacts/",
            lambda: "/contacts/?state=queued&q=Contact&mrd=1",
            lambda: f"/contacts/?before={cursor()}",
        ]
        small, large = self.counts(sup_client, feed, urls)
        assert small == large

    def test_it_keeps_the_detail_constant(self, sup_client, feed, django_user_model):
        users = [django_user_model.objects.create_user(f"u{i}") for i in range(3)]
        contact = lifecycle.create("task", feed, name="Watched", script_selector="Sales")
        for user, pair in zip(users, [("queued", "EXTERNALLY_ROUTED"), ("reserved", "EXTERNALLY_ROUTED"),
                                      ("handled", "EXTERNALLY_HANDLED")], strict=True):  # fmt: skip
            lifecycle.transition(contact, *pair, source=Source.DASHBOARD, user=user)
            contact.refresh_from_db()
        small, large = self.counts(sup_client, feed, [lambda: f"/contacts/{contact.public_id}"])
        assert small == large


@pytest.mark.postgres
@pytest.mark.django_db
class TrigramIndexTests:
    def test_it_indexes_name_title_and_public_id_for_free_text_search(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'contacts_contact'")
            indexes = dict(cursor.fetchall())
        for field in ("name", "title", "public_id"):
            assert "gin_trgm_ops" in indexes[f"contact_{field}_trgm_idx"]
