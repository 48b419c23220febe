"""The demo configuration that `manage.py seed_demo` restores: users, feeds, notifications and the mock CCE."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from contacts.alerts.models import QueueAlertRule
from contacts.cce.models import Agent, CceSettings, DialedNumber, MediaRoutingDomain, RoutingScript, ScriptAction
from contacts.core import permissions
from contacts.core.models import Feed, FeedNotification, FeedType

# username, password, role group (None: superuser). Printed by `make run`.
DEMO_USERS = [
    ("superuser", "superuser", None),
    ("admin", "admin", permissions.ADMINS),
    ("supervisor", "supervisor", permissions.SUPERVISORS),
]

# feed id -> (name, type, notification (MRD id, script selector) or None)
DEMO_FEEDS = {
    100: ("Web tasks", FeedType.TASK, None),
    200: ("Callbacks", FeedType.CALLBACK, (1, "CallbackDN")),
    201: ("Callbacks, broken notification", FeedType.CALLBACK, (9999, "CallbackDN")),
}


def seed_users() -> list[tuple[str, str, str]]:
    """Create or reset the demo users; returns (username, password, role) for printing."""
    permissions.ensure_role_groups()
    user_model = get_user_model()
    printed = []
    for username, password, group_name in DEMO_USERS:
        user, _ = user_model.objects.get_or_create(username=username)
        user.is_superuser = group_name is None
        # Admins configure the contact center in the Django admin; supervisors only watch.
        user.is_staff = group_name != permissions.SUPERVISORS
        user.is_active = True
        user.set_password(password)
        user.save()
        user.groups.set([Group.objects.get(name=group_name)] if group_name else [])
        printed.append((username, password, group_name or "superuser"))
    return printed


def seed_feeds() -> None:
    for feed_id, (name, feed_type, notification) in DEMO_FEEDS.items():
        feed, _ = Feed.objects.update_or_create(
            id=feed_id, defaults={"name": name, "type": feed_type, "enabled": True, "api_token": ""}
        )
        if notification:
            mrd_id, selector = notification
            FeedNotification.objects.update_or_create(
                feed=feed, defaults={"mrd_id": mrd_id, "script_selector": selector, "enabled": True}
            )
        else:
            FeedNotification.objects.filter(feed=feed).delete()


# The mock CCE (README "Mock Unified CCE" lists what each row produces).
# MRD id -> (name, routing enabled, max tasks in queue, task life seconds; 0 = no limit)
DEMO_MRDS = {
    1: ("Callbacks", True, 0, 0),
    5000: ("Chat", True, 0, 0),
    5001: ("Email", False, 0, 0),
    5002: ("Waiting room", True, 0, 0),
}
# script name -> action
DEMO_SCRIPTS = {
    "Route to agents": ScriptAction.ROUTE,
    "Release": ScriptAction.RELEASE,
    "Fail": ScriptAction.FAIL,
}
# script selector -> (MRD id, script name or None)
DEMO_DIALED_NUMBERS = {
    "CallbackDN": (1, "Route to agents"),
    "Sales": (5000, "Route to agents"),
    "Support": (5000, "Route to agents"),
    "NoScript": (5000, None),
    "Release": (5000, "Release"),
    "Faulty": (5000, "Fail"),
    "EmailDN": (5001, "Route to agents"),
    "Waiting": (5002, "Route to agents"),
}
# agent id -> (name, MRD id, ready, max concurrent contacts, handle time min, max seconds)
DEMO_AGENTS = {
    "1081": ("Alice", 5000, True, 3, 3, 10),
    "1082": ("Bob", 5000, True, 3, 3, 10),
    "1083": ("Carol", 5000, True, 3, 3, 10),
    "1091": ("Dave", 5001, True, 2, 3, 10),
    "1092": ("Erin", 5001, True, 2, 3, 10),
    # Not ready: MRD 5002 keeps its contacts waiting until an admin makes Frank ready.
    "1099": ("Frank", 5002, False, 1, 3, 10),
    "2001": ("Grace", 1, True, 1, 5, 15),
    "2002": ("Heidi", 1, True, 1, 5, 15),
}
# Spec §6's rate and backlog, connection up. The README's recipes for the throttle, connection loss and
# CCP restart change these in the admin; seed_demo puts them back.
DEMO_CCE_SETTINGS = {"connection_up": True, "throttle_per_minute": 375, "backlog_size": 10000}


# MRD id -> the queue alert rule's thresholds: the alerts, and the KPI panel's amber and red levels. Only the
# demo has them (seed_demo), not the benchmark's configuration, whose figures were measured without alerts.
DEMO_QUEUE_RULES = {
    1: {"max_queued": 60, "max_oldest_seconds": 600, "warn_queued": 40, "warn_oldest_seconds": 300,
        "service_level_goal": 70, "service_level_warn": 80},
    5000: {"max_queued": 40, "max_oldest_seconds": 300, "warn_queued": 25, "warn_oldest_seconds": 120,
           "service_level_goal": 80, "service_level_warn": 90},
}


def seed_queue_rules() -> None:
    """Create or restore the demo's queue alert rules (thresholds of alerts and of the KPI panel's colours)."""
    for mrd_id, thresholds in DEMO_QUEUE_RULES.items():
        QueueAlertRule.objects.update_or_create(mrd_id=mrd_id, defaults={"enabled": True, **thresholds})


def seed_cce() -> None:
    """Create or restore the demo MRDs, scripts, script selectors, agents and CCE settings; others stay."""
    for mrd_id, (name, enabled, max_queue, task_life) in DEMO_MRDS.items():
        MediaRoutingDomain.objects.update_or_create(
            id=mrd_id,
            defaults={"name": name, "routing_enabled": enabled, "max_tasks_in_queue": max_queue,
                      "task_life_seconds": task_life},
        )
    scripts = {
        name: RoutingScript.objects.update_or_create(name=name, defaults={"action": action, "delay_seconds": 0})[0]
        for name, action in DEMO_SCRIPTS.items()
    }
    for selector, (mrd_id, script_name) in DEMO_DIALED_NUMBERS.items():
        DialedNumber.objects.update_or_create(
            string=selector, defaults={"mrd_id": mrd_id, "script": scripts[script_name] if script_name else None}
        )
    for agent_id, (name, mrd_id, ready, slots, handle_min, handle_max) in DEMO_AGENTS.items():
        Agent.objects.update_or_create(
            agent_id=agent_id,
            defaults={"name": name, "mrd_id": mrd_id, "ready": ready, "max_concurrent": slots,
                      "handle_time_min": handle_min, "handle_time_max": handle_max},
        )
    CceSettings.objects.update_or_create(pk=CceSettings.SINGLETON_ID, defaults=DEMO_CCE_SETTINGS)
