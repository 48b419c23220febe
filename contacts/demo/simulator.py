"""Realistic traffic for ccpdash through its real HTTP API: a seeded plan, a paced sender, a summary.

The plan is a pure function of the profile (and its seed), so a run can be reproduced and its
mix tested; the sender speaks the CCP API over HTTP exactly as an application would (XML
create, status polls of `Location`, `DELETE` for cancels) and never touches the database.
"""

from __future__ import annotations

import random
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from xml.etree.ElementTree import Element, SubElement, tostring

from defusedxml.ElementTree import fromstring

# What each kind of outcome needs in the demo configuration (see the README's demo tables).
SUCCESS = "success"
FAILURES: dict[str, dict] = {
    "no_script": {"selector": "NoScript"},
    "invalid_selector": {"selector": "NoSuchSelector"},
    "routing_disabled": {"selector": "EmailDN"},
    "released": {"selector": "Release"},
    "unknown_error": {"selector": "Faulty"},
    "invalid_message": {"variables": [("mediaType", "fax")]},
    "field_length": {"variables": [("cv_1", "x" * 41)]},
    "invalid_mrd": {"callback_feed": "bad"},
}
SUCCESS_SELECTORS = ("Sales", "Support")
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman")
SUBJECTS = ("Order question", "Invoice", "Delivery late", "Password reset", "Upgrade plan", "Refund")


@dataclass(frozen=True)
class Profile:
    """What traffic to send: how much, how fast, and which share of each outcome."""

    count: int = 100
    rate: float = 2.0  # contacts per second
    callback_share: float = 0.2
    failure_shares: dict[str, float] = field(default_factory=dict)
    cancel_share: float = 0.0
    seed: int = 1
    task_feed: int = 100
    callback_feed: int = 200
    bad_callback_feed: int = 201

    def validate(self) -> None:
        unknown = set(self.failure_shares) - set(FAILURES)
        if unknown:
            raise ValueError(f"unknown failure kinds {sorted(unknown)}; known: {sorted(FAILURES)}")
        if sum(self.failure_shares.values()) + self.cancel_share > 1:
            raise ValueError("failure shares and the cancel share add up to more than 1")
        if self.rate <= 0 or self.count < 0:
            raise ValueError("rate must be positive and count not negative")


@dataclass(frozen=True)
class PlannedContact:
    index: int
    kind: str  # "task" | "callback"
    intent: str  # SUCCESS, a FAILURES key, or "cancel"
    feed: int
    name: str
    title: str
    selector: str = ""
    media_address: str = ""
    variables: tuple[tuple[str, str], ...] = ()


def plan(profile: Profile) -> list[PlannedContact]:
    """The contacts a run sends, in order; the same profile always gives the same plan."""
    profile.validate()
    rng = random.Random(profile.seed)
    intents = [*profile.failure_shares.items(), ("cancel", profile.cancel_share)]
    return [_plan_one(rng, index, profile, _draw_intent(rng, intents)) for index in range(profile.count)]


def _draw_intent(rng: random.Random, intents: list[tuple[str, float]]) -> str:
    roll = rng.random()
    for intent, share in intents:
        if roll < share:
            return intent
        roll -= share
    return SUCCESS


def _plan_one(rng: random.Random, index: int, profile: Profile, intent: str) -> PlannedContact:
    recipe = FAILURES.get(intent, {})
    if "callback_feed" in recipe:
        kind = "callback"
    elif "selector" in recipe:
        kind = "task"  # selector failures are shown on the task feed
    else:
        kind = "callback" if rng.random() < profile.callback_share else "task"
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    title = f"{rng.choice(SUBJECTS)} #{rng.randint(1000, 9999)}"
    variables = tuple(recipe.get("variables", ())) + (("cv_2", f"SIM-{index}"),)
    if kind == "callback":
        feed = profile.bad_callback_feed if "callback_feed" in recipe else profile.callback_feed
        phone = f"+1555{rng.randint(1000000, 9999999)}"
        return PlannedContact(index, kind, intent, feed, name, title, media_address=phone, variables=variables)
    selector = recipe.get("selector") or rng.choice(SUCCESS_SELECTORS)
    return PlannedContact(index, kind, intent, profile.task_feed, name, title, selector=selector, variables=variables)


def create_document(contact: PlannedContact) -> bytes:
    """The XML body of the create request (`<Task>` or `<Contact>`, spec §4)."""
    root = Element("Task" if contact.kind == "task" else "Contact")
    SubElement(root, "name").text = contact.name
    SubElement(root, "title").text = contact.title
    if contact.kind == "task":
        SubElement(root, "scriptSelector").text = contact.selector
    else:
        SubElement(root, "mediaAddress").text = contact.media_address
    variables = SubElement(root, "variables")
    for name, value in contact.variables:
        variable = SubElement(variables, "variable")
        SubElement(variable, "name").text = name
        SubElement(variable, "value").text = value
    return tostring(root, encoding="utf-8")


class ApiClient:
    """The CCP API as an application sees it, over plain HTTP."""

    def __init__(self, base_url: str, timeout: float = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, url: str, body: bytes | None = None) -> tuple[int, Message, bytes]:
        """(status, headers, body). The headers are looked up case-insensitively, as HTTP's names are: the web
        server (Granian) sends them in lower case ("location")."""
        headers = {"Content-Type": "application/xml"} if body is not None else {}
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def create(self, contact: PlannedContact) -> tuple[int, str]:
        path = "task" if contact.kind == "task" else "callback"
        url = f"{self.base_url}/ccp/rest/{path}/feed/{contact.feed}"
        status, headers, _ = self._call("POST", url, create_document(contact))
        return status, headers.get("Location", "")

    def status(self, location: str) -> tuple[int, str, str]:
        """(HTTP status, state in lower case, reason) of a contact's status URL."""
        code, _, body = self._call("GET", location)
        if code != 200:
            return code, "", ""
        document = fromstring(body, forbid_dtd=True)
        return code, (document.findtext("status") or "").lower(), document.findtext("statusReason") or ""

    def cancel(self, location: str) -> int:
        return self._call("DELETE", location)[0]


FINAL_STATES = {"handled", "discarded"}


@dataclass
class Tracked:
    planned: PlannedContact
    location: str = ""
    outcome: str = ""  # "state/reason" once final, "rejected <code>" for a refused create
    cancel_sent: bool = False


class Run:
    """Sends a plan at its rate, cancels the planned share, and polls until outcomes are final.

    Finished contacts are folded into counters, so an endless demo stream uses constant memory.
    """

    def __init__(self, client: ApiClient, profile: Profile, progress: Callable[[Run], None] = lambda run: None) -> None:
        self.client, self.profile, self.progress = client, profile, progress
        self.pending: list[Tracked] = []
        self.finished: Counter = Counter()  # (intent, outcome) -> number
        self.sent = 0

    def send(self, contacts: list[PlannedContact]) -> None:
        started = time.monotonic()
        for number, contact in enumerate(contacts, 1):
            # Pace against the start time, not the previous send, so slow requests don't lower the rate.
            delay = started + (number - 1) / self.profile.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._track(self._send_one(contact))
            self.sent += 1
            self._poll_some()
            self.progress(self)

    def _send_one(self, contact: PlannedContact) -> Tracked:
        code, location = self.client.create(contact)
        tracked = Tracked(contact, location)
        if code != 201:
            tracked.outcome = f"rejected {code}"
        elif contact.intent == "cancel":
            tracked.cancel_sent = self.client.cancel(location) == 200
        return tracked

    def _track(self, tracked: Tracked) -> None:
        if tracked.outcome:
            self.finished[(tracked.planned.intent, tracked.outcome)] += 1
        else:
            self.pending.append(tracked)

    def _poll_some(self, budget: int = 5) -> None:
        polled, self.pending = self.pending[:budget], self.pending[budget:]
        for tracked in polled:
            code, state, reason = self.client.status(tracked.location)
            if code == 404:
                # The status URL disappears once a cancel requested through it succeeded (spec §4).
                tracked.outcome = "cancelled (404)" if tracked.cancel_sent else "gone (404)"
            elif state in FINAL_STATES:
                tracked.outcome = f"{state}/{reason}"
            self._track(tracked)

    def finish(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            self._poll_some(budget=50)
            self.progress(self)
            time.sleep(0.5)

    def outcomes(self) -> Counter:
        """outcome -> number, with "not final" for contacts still pending."""
        counts: Counter = Counter()
        for (_, outcome), number in self.finished.items():
            counts[outcome] += number
        counts["not final"] += len(self.pending)
        return +counts

    def progress_line(self) -> str:
        counts = self.outcomes()
        final = self.sent - counts["not final"]
        handled = sum(n for outcome, n in counts.items() if outcome.startswith("handled"))
        return f"sent {self.sent} · final {final} · handled {handled} · other {final - handled}"


def summary_lines(run: Run) -> Iterator[str]:
    by_intent: dict[str, Counter] = {}
    for (intent, outcome), number in run.finished.items():
        by_intent.setdefault(intent, Counter())[outcome] += number
    for tracked in run.pending:
        by_intent.setdefault(tracked.planned.intent, Counter())["not final"] += 1
    yield f"{run.sent} contacts sent"
    for intent, outcomes in sorted(by_intent.items()):
        yield f"  {intent} ({sum(outcomes.values())}):"
        for outcome, number in outcomes.most_common():
            yield f"    {number:5d}  {outcome}"
