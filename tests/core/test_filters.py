"""The contact list's text search (contacts.core.filters.text_search): the same contacts as a case-insensitive
substring match of the whole text on name, title or public id, whichever word the index is asked for."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.core.filters import filter_contacts, index_word
from contacts.core.models import Contact, Feed, FeedType

NAMES = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Ada King"]
TITLES = ["Order 4711: where is my parcel?", "Refund for order 4711", "Order 47110 arrived damaged", "Call me"]
WORDS = sorted({word for text in NAMES + TITLES for word in text.split()} | {"4711", "ORDER", "ada", "x", "is my"})


@pytest.fixture
def contacts(db) -> list[Contact]:
    feed = Feed.objects.create(id=100, name="tasks", type=FeedType.TASK)
    return [Contact.objects.create(kind="task", feed=feed, name=name, title=title)
            for name in NAMES for title in TITLES]


def expected(contacts: list[Contact], text: str) -> set[int]:
    needle = text.upper()
    return {c.pk for c in contacts if any(needle in value.upper() for value in (c.name, c.title, c.public_id))}


def found(text: str) -> set[int]:
    return set(filter_contacts({"q": text}).values_list("pk", flat=True))


class TextSearchTests:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=4), separator=st.sampled_from([" ", "  "]))
    def test_it_finds_exactly_the_contacts_that_contain_the_whole_text(self, contacts, words, separator):
        text = separator.join(words)
        assert found(text) == expected(contacts, text), text

    def test_it_matches_a_phrase_within_one_field_only(self, contacts):
        assert found("order 4711") == expected(contacts, "order 4711") != set()
        assert found("Lovelace Order") == set()  # the name's end and the title's start are two fields

    def test_it_still_finds_a_contact_by_part_of_its_public_id(self, contacts):
        assert found(contacts[5].public_id[4:20].lower()) == {contacts[5].pk}

    @pytest.mark.parametrize(("text", "word"), [
        ("Order 4711", "4711"),            # digits first: an order, a phone number, an id
        ("where is my parcel", "parcel"),  # else the longest word
        ("Ada Lovelace", "Lovelace"),
        ("Lovelace", "Lovelace"),          # one word: itself
        ("is my", "is my"),                # no word as long as a trigram: the whole text
    ])
    def test_it_asks_the_index_for_the_likeliest_rare_word(self, text, word):
        assert index_word(text) == word
