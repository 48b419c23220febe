"""The benchmark's data: the demo configuration tuned as the issue measured it, a supervisor's session, a backlog.

The configuration is the demo's (`seed.py`) with the throttle off and the Sales script selector's MRD
given 509 free agent slots (the demo's 9 plus 50 agents of 10), so routing never waits for an agent;
handle times are scaled by the environment (`system.SCENARIO_ENV`).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone

from contacts.cce.models import Agent, CceSettings, DialedNumber
from contacts.core import lifecycle, permissions
from contacts.core.lifecycle import UNREAD, Source
from contacts.core.models import Contact, Feed, Transition

from .. import seed

EXTRA_AGENTS, EXTRA_AGENT_SLOTS = 50, 10
FEED_THREADS = 4
SUPERVISOR = "bench-supervisor"


def configure() -> dict:
    """Seed the demo, turn the throttle off and give Sales' MRD its free slots; returns what was set."""
    seed.seed_users()
    seed.seed_feeds()
    seed.seed_cce()
    CceSettings.objects.filter(pk=CceSettings.SINGLETON_ID).update(throttle_per_minute=0)  # 0 = unlimited
    mrd_id = DialedNumber.objects.get(string="Sales").mrd_id
    template = Agent.objects.filter(mrd_id=mrd_id).first()
    for number in range(EXTRA_AGENTS):
        Agent.objects.update_or_create(
            agent_id=f"bench-{number}",
            defaults={"name": f"Bench agent {number}", "mrd_id": mrd_id, "ready": True,
                      "max_concurrent": EXTRA_AGENT_SLOTS, "handle_time_min": template.handle_time_min,
                      "handle_time_max": template.handle_time_max},
        )
    slots = sum(Agent.objects.filter(mrd_id=mrd_id, ready=True).values_list("max_concurrent", flat=True))
    return {"mrd": mrd_id, "free_slots": slots, "throttle_per_minute": 0}


def supervisor_session() -> str:
    """A logged-in session of a supervisor (contacts.view_dashboard), as the login form would create it."""
    permissions.ensure_role_groups()
    user, _ = get_user_model().objects.get_or_create(username=SUPERVISOR)
    user.set_unusable_password()
    user.save()
    user.groups.set([Group.objects.get(name=permissions.SUPERVISORS)])
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def preload_backlog(count: int) -> None:
    """`count` unread tasks with their create transitions (T1), written straight to the tables.

    Nothing is enqueued: the contacts are a throttle backlog the reconciler drains once a worker runs.
    """
    feed = Feed.objects.get(id=100)
    for start in range(0, count, 2000):
        now = timezone.now()
        contacts = Contact.objects.bulk_create([
            Contact(kind="task", feed=feed, state=UNREAD.state, reason=UNREAD.reason, name=f"Backlog {n}",
                    title="Preloaded", script_selector="Sales")
            for n in range(start, min(count, start + 2000))
        ])
        Transition.objects.bulk_create([
            Transition(contact=c, rule="T1", to_state=UNREAD.state, to_reason=UNREAD.reason, source=Source.API,
                       created_at=now)
            for c in contacts
        ])


def feed(rate: float, seconds: float, threads: int = FEED_THREADS) -> dict:
    """`rate` Sales tasks a second for `seconds` through `lifecycle.create` (open loop), as the API would
    create them but without a web request: each commits, is broadcast and has its submit message sent.

    `threads` create side by side, each its share of the planned times (one create is a few round trips
    to PostgreSQL and Redis: one thread alone fell a few percent short of 100/s). Returns how many were
    created, how fast, and how many fell behind their planned time by more than 100 ms.
    """
    feed_row = Feed.objects.get(id=100)
    count = int(rate * seconds)
    late = [0] * threads
    started = time.perf_counter()

    def create_share(share: int) -> None:
        from django.db import connection

        try:
            for number in range(share, count, threads):
                delay = started + number / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                elif delay < -0.1:
                    late[share] += 1
                lifecycle.create("task", feed_row, name=f"Fed {number}", title="Fed", script_selector="Sales")
        finally:
            connection.close()

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(create_share, range(threads)))
    elapsed = time.perf_counter() - started
    return {"count": count, "per_second": round(count / elapsed, 1) if elapsed else None, "late": sum(late)}
